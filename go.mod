module github.com/gtl-dev/gtl

go 1.26

// scripts/setup.sh prepares a patched copy of gotch v0.9.1 here: its C++
// wrapper prebuilt as .build/lib/libgtltorch.so against the local libtorch.
replace github.com/sugarme/gotch => ./.build/gotch

require github.com/sugarme/gotch v0.0.0-00010101000000-000000000000
