package vision

import "github.com/gtl-dev/gtl/vision/transforms"

// Taken from torchvision 0.14's IMAGENET1K_V1 weight entries (URL,
// evaluation transform, parameter count).

// torchvisionWeights lists the official ImageNet weights of each architecture.
var torchvisionWeights = map[string]Pretrained{
	"resnet18":           {Arch: "resnet18", URL: "https://download.pytorch.org/models/resnet18-f37072fd.pth", SHA256Prefix: "f37072fd", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 11689512},
	"resnet34":           {Arch: "resnet34", URL: "https://download.pytorch.org/models/resnet34-b627a593.pth", SHA256Prefix: "b627a593", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 21797672},
	"resnet50":           {Arch: "resnet50", URL: "https://download.pytorch.org/models/resnet50-0676ba61.pth", SHA256Prefix: "0676ba61", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 25557032},
	"resnet101":          {Arch: "resnet101", URL: "https://download.pytorch.org/models/resnet101-63fe2227.pth", SHA256Prefix: "63fe2227", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 44549160},
	"resnet152":          {Arch: "resnet152", URL: "https://download.pytorch.org/models/resnet152-394f9c45.pth", SHA256Prefix: "394f9c45", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 60192808},
	"resnext50_32x4d":    {Arch: "resnext50_32x4d", URL: "https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth", SHA256Prefix: "7cdf4587", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 25028904},
	"wide_resnet50_2":    {Arch: "wide_resnet50_2", URL: "https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth", SHA256Prefix: "95faca4d", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 68883240},
	"mobilenet_v2":       {Arch: "mobilenet_v2", URL: "https://download.pytorch.org/models/mobilenet_v2-b0353104.pth", SHA256Prefix: "b0353104", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 3504872},
	"mobilenet_v3_small": {Arch: "mobilenet_v3_small", URL: "https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth", SHA256Prefix: "047dcff4", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 2542856},
	"mobilenet_v3_large": {Arch: "mobilenet_v3_large", URL: "https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth", SHA256Prefix: "8738ca79", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 5483032},
	"vgg11":              {Arch: "vgg11", URL: "https://download.pytorch.org/models/vgg11-8a719046.pth", SHA256Prefix: "8a719046", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 132863336},
	"vgg13":              {Arch: "vgg13", URL: "https://download.pytorch.org/models/vgg13-19584684.pth", SHA256Prefix: "19584684", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 133047848},
	"vgg16":              {Arch: "vgg16", URL: "https://download.pytorch.org/models/vgg16-397923af.pth", SHA256Prefix: "397923af", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 138357544},
	"vgg19":              {Arch: "vgg19", URL: "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth", SHA256Prefix: "dcbb9e9d", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 143667240},
	"vgg11_bn":           {Arch: "vgg11_bn", URL: "https://download.pytorch.org/models/vgg11_bn-6002323d.pth", SHA256Prefix: "6002323d", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 132868840},
	"vgg13_bn":           {Arch: "vgg13_bn", URL: "https://download.pytorch.org/models/vgg13_bn-abd245e5.pth", SHA256Prefix: "abd245e5", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 133053736},
	"vgg16_bn":           {Arch: "vgg16_bn", URL: "https://download.pytorch.org/models/vgg16_bn-6c64b313.pth", SHA256Prefix: "6c64b313", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 138365992},
	"vgg19_bn":           {Arch: "vgg19_bn", URL: "https://download.pytorch.org/models/vgg19_bn-c79401a0.pth", SHA256Prefix: "c79401a0", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 143678248},
	"alexnet":            {Arch: "alexnet", URL: "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth", SHA256Prefix: "7be5be79", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 61100840},
	"inception_v3":       {Arch: "inception_v3", URL: "https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth", SHA256Prefix: "0cc3c7bd", CropSize: 299, ResizeSize: 342, Filter: transforms.Bilinear, Params: 27161264},
	"densenet121":        {Arch: "densenet121", URL: "https://download.pytorch.org/models/densenet121-a639ec97.pth", SHA256Prefix: "a639ec97", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 7978856},
	"densenet161":        {Arch: "densenet161", URL: "https://download.pytorch.org/models/densenet161-8d451a50.pth", SHA256Prefix: "8d451a50", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 28681000},
	"densenet169":        {Arch: "densenet169", URL: "https://download.pytorch.org/models/densenet169-b2777c0a.pth", SHA256Prefix: "b2777c0a", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 14149480},
	"densenet201":        {Arch: "densenet201", URL: "https://download.pytorch.org/models/densenet201-c1103571.pth", SHA256Prefix: "c1103571", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 20013928},
	"efficientnet_b0":    {Arch: "efficientnet_b0", URL: "https://download.pytorch.org/models/efficientnet_b0_rwightman-3dd342df.pth", SHA256Prefix: "3dd342df", CropSize: 224, ResizeSize: 256, Filter: transforms.Bicubic, Params: 5288548},
	"efficientnet_b1":    {Arch: "efficientnet_b1", URL: "https://download.pytorch.org/models/efficientnet_b1_rwightman-533bc792.pth", SHA256Prefix: "533bc792", CropSize: 240, ResizeSize: 256, Filter: transforms.Bicubic, Params: 7794184},
	"efficientnet_b2":    {Arch: "efficientnet_b2", URL: "https://download.pytorch.org/models/efficientnet_b2_rwightman-bcdf34b7.pth", SHA256Prefix: "bcdf34b7", CropSize: 288, ResizeSize: 288, Filter: transforms.Bicubic, Params: 9109994},
	"efficientnet_b3":    {Arch: "efficientnet_b3", URL: "https://download.pytorch.org/models/efficientnet_b3_rwightman-cf984f9c.pth", SHA256Prefix: "cf984f9c", CropSize: 300, ResizeSize: 320, Filter: transforms.Bicubic, Params: 12233232},
	"efficientnet_b4":    {Arch: "efficientnet_b4", URL: "https://download.pytorch.org/models/efficientnet_b4_rwightman-7eb33cd5.pth", SHA256Prefix: "7eb33cd5", CropSize: 380, ResizeSize: 384, Filter: transforms.Bicubic, Params: 19341616},
	"efficientnet_b5":    {Arch: "efficientnet_b5", URL: "https://download.pytorch.org/models/efficientnet_b5_lukemelas-b6417697.pth", SHA256Prefix: "b6417697", CropSize: 456, ResizeSize: 456, Filter: transforms.Bicubic, Params: 30389784},
	"efficientnet_b6":    {Arch: "efficientnet_b6", URL: "https://download.pytorch.org/models/efficientnet_b6_lukemelas-c76e70fd.pth", SHA256Prefix: "c76e70fd", CropSize: 528, ResizeSize: 528, Filter: transforms.Bicubic, Params: 43040704},
	"efficientnet_b7":    {Arch: "efficientnet_b7", URL: "https://download.pytorch.org/models/efficientnet_b7_lukemelas-dcc49843.pth", SHA256Prefix: "dcc49843", CropSize: 600, ResizeSize: 600, Filter: transforms.Bicubic, Params: 66347960},
	"squeezenet1_0":      {Arch: "squeezenet1_0", URL: "https://download.pytorch.org/models/squeezenet1_0-b66bff10.pth", SHA256Prefix: "b66bff10", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 1248424},
	"squeezenet1_1":      {Arch: "squeezenet1_1", URL: "https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth", SHA256Prefix: "b8a52dc0", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 1235496},
	"convnext_tiny":      {Arch: "convnext_tiny", URL: "https://download.pytorch.org/models/convnext_tiny-983f1562.pth", SHA256Prefix: "983f1562", CropSize: 224, ResizeSize: 236, Filter: transforms.Bilinear, Params: 28589128},
	"vit_b_16":           {Arch: "vit_b_16", URL: "https://download.pytorch.org/models/vit_b_16-c867db91.pth", SHA256Prefix: "c867db91", CropSize: 224, ResizeSize: 256, Filter: transforms.Bilinear, Params: 86567656},
}
