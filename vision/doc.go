// Package vision holds gtl's image models and turns image sets into tensors.
//
// Every function that touches libtorch returns an error instead of
// panicking, and must run on a torch worker thread (see package
// vision/torch). Returned tensors belong to the caller, who drops them.
//
//	err := torch.Do(func() error {
//		vs := nn.NewVarStore(gotch.CPU)
//		m, err := vision.NewSmallCNN(vs.Root(), 1, 10, 28)
//		if err != nil { return err }
//		x, y, err := vision.Batch(images, []int{0, 1, 2}, vision.Normalize{})
//		if err != nil { return err }
//		defer x.MustDrop(); defer y.MustDrop()
//		logits, err := m.Forward(x, false)
//		...
//	})
//
// vision sits on gotch and vision/torch; package finetune trains its models.
package vision
