package finetune

import (
	"os"

	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// resolveLabels checks a spec with a labels file (DataSpec.Labels) and
// fills in fastai's column defaults.
func (d *DataSpec) resolveLabels() error {
	if d.Source == "" || d.Source == "fashion-mnist" {
		return FieldErrorf("Data.Source", "{Data.Labels} needs {Data.Source}: the folder its image paths are relative to")
	}
	if st, err := os.Stat(d.Source); err != nil || !st.IsDir() {
		return FieldErrorf("Data.Source", "{Data.Source} %s: not a folder (with {Data.Labels}, the folder the image paths are relative to)", d.Source)
	}
	if st, err := os.Stat(d.Labels); err != nil || st.IsDir() {
		return FieldErrorf("Data.Labels", "{Data.Labels} %s: no such file (want a CSV of image paths and labels)", d.Labels)
	}
	if d.Classes != "" {
		return FieldErrorf("Data.Classes", "{Data.Classes} applies to fashion-mnist; a labels file is used with all its labels")
	}
	if d.FnCol == "" {
		d.FnCol = "0"
	}
	if d.LabelCol == "" {
		d.LabelCol = "1"
	}
	if d.ValidCol == "" {
		d.ValidCol = "is_valid"
	}
	return nil
}

// csvOptions are the labels file's columns.
func (d DataSpec) csvOptions() datasets.CSVOptions {
	o := datasets.CSVOptions{FnCol: d.FnCol, LabelCol: d.LabelCol, ValidCol: d.ValidCol}
	if d.MultiLabel {
		o.LabelDelim = d.LabelDelim
	}
	return o
}

// listFolder lists the images of a folder spec: from its labels file, or
// from its class folders.
func (d DataSpec) listFolder(seed uint64) (*vision.Folder, error) {
	if d.Labels == "" {
		f, err := vision.ListFolder(d.Source, d.ValSplit, seed)
		if err != nil {
			return nil, FieldErrorf("Data.Source", "%w", err)
		}
		return f, nil
	}
	f, err := vision.ListCSV(d.Source, d.Labels, d.csvOptions(), d.ValSplit, seed)
	if err != nil {
		return nil, FieldErrorf("Data.Labels", "{Data.Labels}: %w", err)
	}
	return f, nil
}
