package datasets

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// ParseClasses reads a class selection such as "5-9" or "0,2,4" (indices
// into a data set's classes) and returns the sorted indices.
func ParseClasses(spec string, n int) ([]int, error) {
	seen := map[int]bool{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err1 := strconv.Atoi(strings.TrimSpace(lo))
		b, err2 := a, error(nil)
		if isRange {
			b, err2 = strconv.Atoi(strings.TrimSpace(hi))
		}
		if err1 != nil || err2 != nil || a > b {
			return nil, fmt.Errorf("datasets: classes %q: %q is not an index or a range a-b", spec, part)
		}
		for c := a; c <= b; c++ {
			if c < 0 || c >= n {
				return nil, fmt.Errorf("datasets: classes %q: class %d out of range [0, %d)", spec, c, n)
			}
			seen[c] = true
		}
	}
	out := make([]int, 0, len(seen))
	for c := range seen {
		out = append(out, c)
	}
	sort.Ints(out)
	return out, nil
}

// SelectClasses keeps the images of the given classes and renumbers their
// labels 0..len(classes)-1 in that order.
func (im *Images) SelectClasses(classes []int) (*Images, error) {
	newLabel := map[int]int{}
	names := make([]string, len(classes))
	for i, c := range classes {
		if c < 0 || c >= len(im.Classes) {
			return nil, fmt.Errorf("datasets: class %d out of range [0, %d)", c, len(im.Classes))
		}
		newLabel[c], names[i] = i, im.Classes[c]
	}
	var idx []int
	for i, l := range im.Labels {
		if _, ok := newLabel[l]; ok {
			idx = append(idx, i)
		}
	}
	out, err := im.Subset(idx)
	if err != nil {
		return nil, err
	}
	for i, l := range out.Labels {
		out.Labels[i] = newLabel[l]
	}
	out.Classes = names
	return out, nil
}
