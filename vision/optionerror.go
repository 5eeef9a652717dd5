package vision

import (
	"fmt"
	"regexp"
)

// OptionError is an OpenOptions value (or a FetchOptions one) that cannot
// be used. Its message refers to options by name in braces ({Arch},
// {Weights}, {Pretrained}, {PretrainedName}); Render lets a caller name
// them its own way: finetune as RunSpec fields, gtl as flags.
type OptionError struct {
	Field string // the option at fault, e.g. "Arch"
	msg   string
	err   error
}

// optionErrorf returns an OptionError for field; format may hold {Name}
// references to options, and %w.
func optionErrorf(field, format string, args ...any) *OptionError {
	err := fmt.Errorf(format, args...)
	var wrapped error
	if u, ok := err.(interface{ Unwrap() error }); ok {
		wrapped = u.Unwrap()
	}
	return &OptionError{Field: field, msg: err.Error(), err: wrapped}
}

var optionRef = regexp.MustCompile(`\{([A-Z][A-Za-z]*)\}`)

// Render returns the message with each option reference replaced by
// name(option).
func (e *OptionError) Render(name func(option string) string) string {
	return optionRef.ReplaceAllStringFunc(e.msg, func(ref string) string { return name(ref[1 : len(ref)-1]) })
}

func (e *OptionError) Error() string {
	return "vision: " + e.Render(func(o string) string { return o })
}

func (e *OptionError) Unwrap() error { return e.err }
