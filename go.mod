module github.com/gtl-dev/gtl

go 1.26

// scripts/setup.sh prepares a patched copy of gotch v0.9.1 here: its C++
// wrapper prebuilt as .build/lib/libgtltorch.so against the local libtorch.
replace github.com/sugarme/gotch => ./.build/gotch

require (
	github.com/schollz/progressbar/v3 v3.19.1
	github.com/sugarme/gotch v0.0.0-00010101000000-000000000000
	github.com/urfave/cli/v2 v2.27.7
)

require (
	github.com/cpuguy83/go-md2man/v2 v2.0.7 // indirect
	github.com/mitchellh/colorstring v0.0.0-20190213212951-d06e56a500db // indirect
	github.com/rivo/uniseg v0.4.7 // indirect
	github.com/russross/blackfriday/v2 v2.1.0 // indirect
	github.com/xrash/smetrics v0.0.0-20240521201337-686a1a2994c1 // indirect
	golang.org/x/sys v0.46.0 // indirect
	golang.org/x/term v0.44.0 // indirect
)
