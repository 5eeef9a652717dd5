// Package models holds gtl's image architectures, one file per family, each
// the same module tree and state-dict names as torchvision.models (0.14) so
// that torchvision's weights load as they are: alexnet, convnext, densenet,
// efficientnet (v1 and v2), googlenet, inception_v3, mnasnet, mobilenet_v2,
// mobilenet_v3, regnet (x and y), resnet (with resnext and wide_resnet),
// shufflenet_v2, squeezenet, swin, vgg and vit; plus SmallCNN, gtl's small
// from-scratch model. Each file's init registers its architectures with
// vision.Register, with named stages for freezing.
//
// Why a registry in vision rather than models.New: building a model by name
// is needed inside vision itself (vision.Open loads weights files and Hub
// models into the architecture they name, checks torchvision's weight table
// against the registry), and vision cannot import models, which imports
// vision's layers. So vision keeps the registry and New/Open/Lookup, and
// this package fills it from init, as image/png registers its decoder with
// package image. Programs and packages that build models by name import it,
// blank where nothing else is used (finetune does, so gtl's CLI and
// strategies get every architecture):
//
//	import _ "github.com/gtl-dev/gtl/vision/models"
//
// Builders must run on a torch worker thread (vision.New does); parity with
// torchvision (logits of seeded random weights, eval and training mode) is
// tested in parity_test.go against fixtures made at test time by
// python3-torchvision (scripts/parity/make_fixtures.py).
package models
