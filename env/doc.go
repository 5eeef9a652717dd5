// Package env owns every GTL_* environment variable: its name, its default
// and the description that `gtl --help` shows. No other package reads the
// environment for gtl settings.
//
//	dir := env.FashionMNISTDir.Value() // set value, or the default
package env
