// Package datasets reads labelled image sets into memory as plain Go values:
// the IDX format and Debian's Fashion-MNIST package to begin with.
//
// It imports no libtorch: indexing, splitting and decoding are testable
// without it. Package vision turns an [Images] set into tensors. Subpackage
// glyphs generates an image-folder set of rendered digits or letters (gtl
// glyphs), a domain unlike Fashion-MNIST.
//
//	train, err := datasets.LoadFashionMNIST("", datasets.Train) // "" = env.FashionMNIST's folder
//	fmt.Println(train.Len(), train.Classes[train.Labels[0]])
package datasets
