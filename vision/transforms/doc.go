// Package transforms prepares images for a model in plain Go, the way
// torchvision's transforms do on PIL images: decode, convert to RGB, resize
// the shorter side with PIL's antialiased bilinear or bicubic filter, centre
// crop, scale to [0, 1] and normalise.
//
//	img, err := transforms.Load("cat.jpg")
//	rgb := transforms.EvalPreset(224, 256, transforms.Bilinear).Apply(img)
//	chw := rgb.CHW(transforms.ImageNetMean, transforms.ImageNetStd)
//
// It imports no libtorch; package vision turns the results into tensors.
package transforms
