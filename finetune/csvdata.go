package finetune

import (
	"errors"
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
	if _, err := datasets.ParseDelimiter(d.CSVDelimiter); err != nil {
		return FieldErrorf("Data.CSVDelimiter", "{Data.CSVDelimiter} %q: want one character (not a quote or a line break), or tab", d.CSVDelimiter)
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

// checkLabelsOnly refuses the settings of a labels file without one.
func (d DataSpec) checkLabelsOnly() error {
	switch {
	case d.Labels != "":
		return nil
	case d.CSVDelimiter != "":
		return FieldErrorf("Data.CSVDelimiter", "{Data.CSVDelimiter} %q needs {Data.Labels}: it separates the columns of a labels file", d.CSVDelimiter)
	case d.Suffix != "":
		return FieldErrorf("Data.Suffix", "{Data.Suffix} %q needs {Data.Labels}: it is appended to the image paths of a labels file", d.Suffix)
	}
	return nil
}

// csvOptions are the labels file's columns.
func (d DataSpec) csvOptions() datasets.CSVOptions {
	o := datasets.CSVOptions{FnCol: d.FnCol, LabelCol: d.LabelCol, ValidCol: d.ValidCol, Delimiter: d.CSVDelimiter, Suffix: d.Suffix}
	if d.MultiLabel {
		o.LabelDelim = d.LabelDelim
	}
	return o
}

// ReadLabels reads the spec's labels file (Labels, over the folder Source)
// with its columns, CSVDelimiter and Suffix, and LabelDelim when
// MultiLabel, as datasets.ReadCSVLabels does. Its error is a *FieldError
// naming the field to change: CSVDelimiter when the header is one column,
// Suffix when the missing images exist with an image extension appended,
// else Labels.
func (d DataSpec) ReadLabels() (*datasets.CSVLabels, error) {
	l, err := datasets.ReadCSVLabels(d.Labels, d.Source, d.csvOptions())
	if err != nil {
		return nil, labelsError(err)
	}
	return l, nil
}

// labelsError names the field of a labels file's error (see ReadLabels;
// vision.ErrOneSplit: ValidCol).
func labelsError(err error) error {
	var hint *datasets.SuffixHint
	switch {
	case errors.Is(err, datasets.ErrOneColumn):
		return FieldErrorf("Data.CSVDelimiter", "{Data.Labels}: %w; {Data.CSVDelimiter} names the file's separator", err)
	case errors.As(err, &hint):
		return FieldErrorf("Data.Suffix", "{Data.Labels}: %w: {Data.Suffix} %s appends it", err, hint.Ext)
	case errors.Is(err, vision.ErrOneSplit):
		return FieldErrorf("Data.ValidCol", "{Data.Labels}: %w; {Data.ValidCol} can name another column, and a file without one is split by {Data.ValSplit}", err)
	}
	return FieldErrorf("Data.Labels", "{Data.Labels}: %w", err)
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
		return nil, labelsError(err)
	}
	return f, nil
}
