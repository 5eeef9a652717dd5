package vision

import "fmt"

// ArchInfo describes an architecture without building it: its stages
// with their trainable parameters and its parameter count, with 1000
// classes (torchvision's ImageNet head). The numbers come from
// archinfo_table.go, written once from the built models; a test in
// vision/models checks every entry against a model built from scratch.
type ArchInfo struct {
	// Stages are the layer groups that --freeze N and discriminative
	// learning rates act on, from the stem to the head (as Model.Stages).
	Stages []StageInfo
	// Params is the number of trainable parameters (Model.NumParams).
	Params int64
}

// StageInfo is one stage of an ArchInfo.
type StageInfo struct {
	Name   string
	Params int64 // trainable parameters in the stage (as Model.StageParams)
}

// Describe returns an architecture's description without building it.
func Describe(arch string) (ArchInfo, error) {
	if _, err := Lookup(arch); err != nil {
		return ArchInfo{}, err
	}
	a, ok := archTable[arch]
	if !ok {
		return ArchInfo{}, fmt.Errorf("vision: %s: no description in archinfo_table.go (go test ./vision/models -run TestArchTable -update writes it)", arch)
	}
	return a, nil
}

// StageCount returns the number of stages of an architecture, head
// included, without building it.
func StageCount(arch string) (int, error) {
	a, err := Describe(arch)
	if err != nil {
		return 0, err
	}
	return len(a.Stages), nil
}
