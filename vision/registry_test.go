package vision_test

// The external tests build gtl's architectures by name: vision/models
// registers them with vision (it imports vision, so only an external test
// package can import it).
import _ "github.com/gtl-dev/gtl/vision/models"
