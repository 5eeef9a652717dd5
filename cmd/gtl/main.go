// Command gtl fine-tunes pretrained vision models on small image sets.
// Run `gtl --help` for the commands.
package main

import "os"

func main() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) }
