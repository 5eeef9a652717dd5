"""scripts/onnx/check.py: check ONNX files with the ONNX checker (Debian's
python3-onnx): full_check and strict shape inference, with types checked.
Test set-up only: gtl never needs Python.

    python3 check.py MODEL.onnx [...]
"""
import sys

import onnx


def main(paths):
    for p in paths:
        m = onnx.load(p)
        onnx.checker.check_model(m, full_check=True)
        onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True, data_prop=True)
    print("ok")


if __name__ == "__main__":
    main(sys.argv[1:])
