//go:build cgo

package transforms

/*
#cgo LDFLAGS: -ljpeg
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <setjmp.h>
#include <jpeglib.h>
#include <jerror.h>

struct gtl_err {
	struct jpeg_error_mgr pub;
	jmp_buf jump;
	char msg[JMSG_LENGTH_MAX];
};

static void gtl_error_exit(j_common_ptr cinfo) {
	struct gtl_err *e = (struct gtl_err *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, e->msg);
	longjmp(e->jump, 1);
}

// A truncated file is a bad image, not a grey-padded one: PIL (without
// LOAD_TRUNCATED_IMAGES) refuses it too. Other warnings are ignored, as PIL
// ignores them.
static void gtl_emit_message(j_common_ptr cinfo, int level) {
	if (level < 0 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
		gtl_error_exit(cinfo);
	}
}

// gtl_set_out picks the output colour space: RGB, or CMYK for CMYK and
// YCCK (Adobe) files, which libjpeg cannot turn into RGB itself (libjpeg
// turns YCCK into CMYK); returns 1 for CMYK.
static int gtl_set_out(struct jpeg_decompress_struct *cinfo) {
	if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
		cinfo->out_color_space = JCS_CMYK;
		return 1;
	}
	cinfo->out_color_space = JCS_RGB;
	return 0;
}

// gtl_cmyk_to_rgb converts a row of w CMYK samples as PIL does: its JPEG
// reader takes CMYK samples as inverted (Adobe's convention, raw mode
// "CMYK;I") and convert("RGB") computes, with MULDIV255(a, b) =
// ((a*b+128)>>8 + a*b+128)>>8 and nk = 255 - k,
// r = nk - MULDIV255(c, nk) (Pillow's Convert.c, cmyk2rgb).
static void gtl_cmyk_to_rgb(const JSAMPLE *in, unsigned char *out, int w) {
	for (int x = 0; x < w; x++) {
		int nk = in[4 * x + 3]; // 255 - (255 - raw k)
		for (int ch = 0; ch < 3; ch++) {
			int c = 255 - in[4 * x + ch];
			int t = c * nk + 128;
			int v = nk - (((t >> 8) + t) >> 8);
			out[3 * x + ch] = v < 0 ? 0 : (v > 255 ? 255 : v);
		}
	}
}

// gtl_jpeg_header reads the size; returns 0 on success.
static int gtl_jpeg_header(const unsigned char *data, unsigned long n, int scale_denom,
		int *w, int *h, char *msg) {
	struct jpeg_decompress_struct cinfo;
	struct gtl_err jerr;
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = gtl_error_exit;
	jerr.pub.emit_message = gtl_emit_message;
	if (setjmp(jerr.jump)) {
		strncpy(msg, jerr.msg, JMSG_LENGTH_MAX);
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, n);
	jpeg_read_header(&cinfo, TRUE);
	gtl_set_out(&cinfo);
	cinfo.scale_num = 1;
	cinfo.scale_denom = scale_denom;
	jpeg_calc_output_dimensions(&cinfo);
	*w = cinfo.output_width;
	*h = cinfo.output_height;
	jpeg_destroy_decompress(&cinfo);
	return 0;
}

// gtl_jpeg_decode decodes into out (w*h*3 bytes, as gtl_jpeg_header gave
// for the same scale_denom); returns 0 on success.
static int gtl_jpeg_decode(const unsigned char *data, unsigned long n, int scale_denom,
		unsigned char *out, int w, int h, char *msg) {
	struct jpeg_decompress_struct cinfo;
	struct gtl_err jerr;
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = gtl_error_exit;
	jerr.pub.emit_message = gtl_emit_message;
	if (setjmp(jerr.jump)) {
		strncpy(msg, jerr.msg, JMSG_LENGTH_MAX);
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, n);
	jpeg_read_header(&cinfo, TRUE);
	int cmyk = gtl_set_out(&cinfo);
	cinfo.scale_num = 1;
	cinfo.scale_denom = scale_denom;
	jpeg_start_decompress(&cinfo);
	if ((int)cinfo.output_width != w || (int)cinfo.output_height != h || cinfo.output_components != (cmyk ? 4 : 3)) {
		snprintf(msg, JMSG_LENGTH_MAX, "decoder output %dx%dx%d, header said %dx%dx%d",
			cinfo.output_width, cinfo.output_height, cinfo.output_components, w, h, cmyk ? 4 : 3);
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	JSAMPARRAY tmp = cmyk ? (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE, w * 4, 1) : NULL;
	while (cinfo.output_scanline < cinfo.output_height) {
		JSAMPROW row = out + (size_t)cinfo.output_scanline * w * 3;
		if (cmyk) {
			jpeg_read_scanlines(&cinfo, tmp, 1);
			gtl_cmyk_to_rgb(tmp[0], row, w);
		} else {
			jpeg_read_scanlines(&cinfo, &row, 1);
		}
	}
	jpeg_finish_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	return 0;
}

// gtl_jpeg_decode_crop decodes only the rows and iMCU columns that cover
// the window (cx, cy, cw, ch) of the full image and writes the window's
// pixels to out (cw*ch*3 bytes); returns 0 on success. margin extra
// columns and rows are decoded around the window and thrown away, so that
// the window never touches the edges of the decoded region, where fancy
// upsampling would see no neighbours.
static int gtl_jpeg_decode_crop(const unsigned char *data, unsigned long n,
		int cx, int cy, int cw, int ch, int margin, unsigned char *out, char *msg) {
	struct jpeg_decompress_struct cinfo;
	struct gtl_err jerr;
	cinfo.err = jpeg_std_error(&jerr.pub);
	jerr.pub.error_exit = gtl_error_exit;
	jerr.pub.emit_message = gtl_emit_message;
	if (setjmp(jerr.jump)) {
		strncpy(msg, jerr.msg, JMSG_LENGTH_MAX);
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	jpeg_create_decompress(&cinfo);
	jpeg_mem_src(&cinfo, data, n);
	jpeg_read_header(&cinfo, TRUE);
	int cmyk = gtl_set_out(&cinfo);
	jpeg_start_decompress(&cinfo);
	int W = cinfo.output_width, H = cinfo.output_height;
	if (cx < 0 || cy < 0 || cw <= 0 || ch <= 0 || cx + cw > W || cy + ch > H) {
		snprintf(msg, JMSG_LENGTH_MAX, "crop %dx%d+%d+%d outside the %dx%d image", cw, ch, cx, cy, W, H);
		jpeg_destroy_decompress(&cinfo);
		return 1;
	}
	int x0 = cx - margin < 0 ? 0 : cx - margin;
	int x1 = cx + cw + margin > W ? W : cx + cw + margin;
	JDIMENSION xoff = x0, width = x1 - x0;
	if (x0 > 0 || x1 < W) {
		jpeg_crop_scanline(&cinfo, &xoff, &width);
	}
	int y0 = cy - margin < 0 ? 0 : cy - margin;
	if (y0 > 0) {
		jpeg_skip_scanlines(&cinfo, y0);
	}
	int comps = cmyk ? 4 : 3;
	JSAMPARRAY row = (*cinfo.mem->alloc_sarray)((j_common_ptr)&cinfo, JPOOL_IMAGE, cinfo.output_width * comps, 1);
	int skip = cx - (int)xoff;
	while ((int)cinfo.output_scanline < cy + ch) {
		int y = cinfo.output_scanline;
		jpeg_read_scanlines(&cinfo, row, 1);
		if (y >= cy) {
			if (cmyk) {
				gtl_cmyk_to_rgb(row[0] + (size_t)skip * 4, out + (size_t)(y - cy) * cw * 3, cw);
			} else {
				memcpy(out + (size_t)(y - cy) * cw * 3, row[0] + (size_t)skip * 3, (size_t)cw * 3);
			}
		}
	}
	jpeg_abort_decompress(&cinfo);
	jpeg_destroy_decompress(&cinfo);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// JPEGDecoder names the JPEG decoder [Decode] and [Load] use.
const JPEGDecoder = "libjpeg-turbo"

// decodeJPEG decodes JPEG data with libjpeg-turbo (the library PIL uses,
// with PIL's defaults: islow IDCT, fancy upsampling), so pixels match
// PIL's Image.open(...).convert("RGB") exactly. scaleDenom 1 decodes at
// full size; 2, 4 or 8 use libjpeg's DCT scaling (PIL's draft()). dst is
// reused when large enough.
func decodeJPEG(data []byte, scaleDenom int, dst []uint8) (RGB, error) {
	if len(data) == 0 {
		return RGB{}, errors.New("empty file")
	}
	var msg [C.JMSG_LENGTH_MAX]C.char
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	var w, h C.int
	if C.gtl_jpeg_header(src, C.ulong(len(data)), C.int(scaleDenom), &w, &h, &msg[0]) != 0 {
		return RGB{}, errors.New(C.GoString(&msg[0]))
	}
	if err := checkPixels(int(w), int(h)); err != nil {
		return RGB{}, err
	}
	n := 3 * int(w) * int(h)
	if n == 0 {
		return RGB{}, errors.New("zero-sized image")
	}
	if cap(dst) < n {
		dst = make([]uint8, n)
	}
	dst = dst[:n]
	if C.gtl_jpeg_decode(src, C.ulong(len(data)), C.int(scaleDenom), (*C.uchar)(unsafe.Pointer(&dst[0])), w, h, &msg[0]) != 0 {
		return RGB{}, errors.New(C.GoString(&msg[0]))
	}
	return RGB{W: int(w), H: int(h), Pix: dst}, nil
}

// cropMargin is how many columns and rows around a crop window are decoded
// and dropped (see gtl_jpeg_decode_crop).
const cropMargin = 2

// decodeJPEGCrop decodes the window r of a JPEG, reading only the rows
// and block columns that cover it: the same pixels as a full decode
// cropped to r, in less time. choose gets the image size and returns r.
func decodeJPEGCrop(data []byte, choose func(w, h int) image.Rectangle, dst []uint8) (RGB, error) {
	if len(data) == 0 {
		return RGB{}, errors.New("empty file")
	}
	var msg [C.JMSG_LENGTH_MAX]C.char
	src := (*C.uchar)(unsafe.Pointer(&data[0]))
	var w, h C.int
	if C.gtl_jpeg_header(src, C.ulong(len(data)), 1, &w, &h, &msg[0]) != 0 {
		return RGB{}, errors.New(C.GoString(&msg[0]))
	}
	if err := checkPixels(int(w), int(h)); err != nil {
		return RGB{}, err
	}
	r := choose(int(w), int(h))
	if r.Empty() || !r.In(image.Rect(0, 0, int(w), int(h))) {
		return RGB{}, fmt.Errorf("crop %v outside the %dx%d image", r, w, h)
	}
	n := 3 * r.Dx() * r.Dy()
	if cap(dst) < n {
		dst = make([]uint8, n)
	}
	dst = dst[:n]
	if C.gtl_jpeg_decode_crop(src, C.ulong(len(data)), C.int(r.Min.X), C.int(r.Min.Y), C.int(r.Dx()), C.int(r.Dy()),
		cropMargin, (*C.uchar)(unsafe.Pointer(&dst[0])), &msg[0]) != 0 {
		return RGB{}, errors.New(C.GoString(&msg[0]))
	}
	return RGB{W: r.Dx(), H: r.Dy(), Pix: dst}, nil
}
