package weights

import (
	"fmt"
	"os"
)

// SafetensorsMetadata returns the __metadata__ of a safetensors file (nil
// when it has none), reading only its header.
func SafetensorsMetadata(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	h, err := parseSafetensorsHeader(path, f, st.Size())
	if err != nil {
		return nil, err
	}
	return h.Metadata, nil
}
