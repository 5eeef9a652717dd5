package finetune

// Run, the trainer and the benchmarks build torchvision's architectures by
// name (vision.Open, vision.New); vision/models registers them with vision.
import _ "github.com/gtl-dev/gtl/vision/models"
