package finetune

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/sugarme/gotch"

	"github.com/gtl-dev/gtl/torch"
	"github.com/gtl-dev/gtl/vision"
	"github.com/gtl-dev/gtl/vision/augment"
	"github.com/gtl-dev/gtl/vision/datasets"
)

// RunSpec is gtl's one settings type: everything that decides a training
// run (the data, the model, how to train it, where, with which seed, and
// where its outputs go). Run carries it out; `gtl train` is its flags
// turned into a RunSpec, every run of `gtl compare` is one too, and what a
// run records (config.json, the checkpoints' "train" entry, compare's
// results.json) is this type, resolved. The zero value of every field
// means the default its comment states; Resolve fills them in from one
// table and checks the spec once, up front, with errors (*FieldError) that
// name the field. What travels beside a run without deciding its numbers
// (hooks, a process group, data already in memory, download progress) is
// RunEnv's.
type RunSpec struct {
	Data  DataSpec
	Model ModelSpec
	Train TrainSpec
	// Device is auto (default: the first CUDA device when there is one,
	// else the CPU), cpu, cuda or cuda:N; a CUDA device that is not there
	// is an error, never a silent fall back to the CPU. Resolve leaves the
	// device it chose (cpu, cuda:N).
	Device string
	// Seed seeds the head's initialisation, the validation split of an
	// image folder, the shots drawn, the shuffling and the augmentation.
	// 0 is a seed like any other (gtl's flags default to 1).
	Seed uint64
	// Out is the output folder: config.json, metrics.jsonl, metrics.csv,
	// last/best checkpoints, trainer state (for Resume), confusion.csv,
	// confusion.png and curves.png, each written atomically. Empty: Run
	// writes nothing.
	Out string
	// Resume continues the interrupted run in Out (same spec) from its
	// last committed state — an epoch's end, or a step inside an epoch
	// (CheckpointEvery, a stop) — (trainer-state.json: weights, optimiser
	// and loop state; metrics lines after it are dropped): the model is
	// opened from the spec's weights again and the state's tensors replace
	// what training changed. Default false.
	Resume bool
	// Overwrite replaces an earlier run in Out: its files (RunFiles) are
	// removed before the run writes anything; default false: such a folder
	// is refused (see LockOut).
	Overwrite bool
	// SaveEvery commits a resumable state in Out, with the last checkpoint
	// (and the best one, when it improved since the last commit), after
	// every SaveEvery-th epoch and the last; default 0: after every epoch
	// when the run's pace projects it over a minute (AutoSaveAfter), else
	// only after the last one. A stop (a hook's ErrStop, ctx cancelled)
	// always commits.
	SaveEvery int
	// CheckpointEvery, in optimisation steps (counted over the run), also
	// commits a resumable state inside epochs, so that a long epoch is
	// resumed where it was, with the same batches and augmentation as the
	// uninterrupted run; default 0: at epoch ends only. Not with a
	// data-parallel RunEnv.Dist.
	//
	// Out, Resume, Overwrite, SaveEvery and CheckpointEvery say where and
	// how often a run writes, not what it computes: config.json does not
	// record them, so that a run resumed with other values still ends with
	// the uninterrupted run's bytes.
	CheckpointEvery int
	// TensorBoard is a folder that receives the run's scalars as a
	// TensorBoard event file (see TensorBoardHook): losses, accuracy, the
	// rate of each parameter group and images/s per epoch. Like Out, it
	// changes where a run reports, not what it computes. Default "": none.
	TensorBoard string

	// What Resolve found, so that a resolved spec is not resolved again:
	// the device parsed, the weights' checkpoint description read, and the
	// training section as given (before defaults: a strategy's plan fills
	// what it leaves unset).
	resolved bool
	dev      gotch.Device
	meta     *vision.CheckpointMeta
	given    TrainSpec
}

// ParsedDevice returns the device a resolved spec runs on.
func (s RunSpec) ParsedDevice() gotch.Device { return s.dev }

// OnDevice returns the resolved spec moved to dev (a data-parallel rank's
// cuda:LOCAL_RANK).
func (s RunSpec) OnDevice(dev gotch.Device) RunSpec {
	s.dev, s.Device = dev, torch.DeviceName(dev)
	return s
}

// RunEnv is what travels beside a RunSpec: it changes what a run reports
// and where it runs, not its numbers. The zero value is a plain
// single-process run that reads its own data.
type RunEnv struct {
	Hooks RunHooks
	// Dist is the data-parallel process group this process is a rank of
	// (see torch.NewGroup and docs/distributed.md); default nil: one
	// process. Train.Batch is per rank, as in DDP (the global batch is
	// Batch × world size; the learning rate is not rescaled); only rank 0
	// writes Out and calls the OnStart and OnStep hooks.
	Dist *torch.Group
	// Data, when set, is the data already read (see LoadData and NewData);
	// the spec's Data.Source, Classes, Val and ValSplit are then only
	// recorded, and Data.Shots still draws from it.
	Data *Data
	// Fetch reports a download of pretrained weights.
	Fetch vision.FetchOptions
	// Plan, when set, decides the training settings of Train.Strategy once
	// the model is open and the training images are known (see
	// strategies.Planner): Run resolves the spec, lists the data, opens
	// the model (bad weights are reported before any image is read), reads
	// the data, asks Plan, and trains.
	Plan Planner
	// KeepModel leaves the trained model open in RunResult.Model (the
	// caller closes it, on the torch worker); default false: Run closes it.
	KeepModel bool
	// lrFindOnly stops a run with Train.LRFind after the sweep (FindLR).
	lrFindOnly bool
}

// Planner fills the settings a strategy decides (see RunEnv.Plan) into
// req.Spec.Train, where they are unset, for a model of req.Stages stages
// (head included) and req.Data's training images (shots drawn). Returning
// Transfer false drops the source weights: Run trains the same
// architecture from its initialisation.
type Planner func(req PlanRequest) (PlanChoice, error)

// PlanRequest is what a Planner decides from.
type PlanRequest struct {
	Spec *RunSpec // resolved
	// Given is the training section as the caller gave it, before
	// defaults: a plan sets only the fields left zero there.
	Given TrainSpec
	Arch  string
	// Weights is the file the open model was loaded from ("" from
	// scratch): a fetched file's path with Model.Pretrained.
	Weights string
	Stages  int
	Data    *Data // training images with the shots drawn, validation images
}

// PlanChoice is a Planner's answer: the strategy it chose (for auto, the
// advisor's) and why, and whether it starts from the source weights.
type PlanChoice struct {
	Strategy string
	Reason   string
	Transfer bool
}

// DataSpec is the data of a run.
type DataSpec struct {
	// Source is "fashion-mnist" (default; Debian's dataset-fashion-mnist)
	// or an image folder: root/<class>/<image>, or root/train/<class>/…
	// and root/val/<class>/….
	Source string `json:"data"`
	// Classes selects Fashion-MNIST classes, e.g. "5-9" or "0,2,4"
	// (default: all); an image folder is used with all its classes.
	Classes string `json:"class_selection,omitempty"`
	// Shots is the number of training images per class, drawn with Seed;
	// default 0: all of them.
	Shots int `json:"shots"`
	// Val is the number of Fashion-MNIST training images held out for
	// validation (balanced over the classes, the same images for every
	// seed; they are never trained on, and the test split is left for
	// gtl eval); default 2000.
	Val int `json:"val"`
	// ValSplit is the share of each class an image folder without val/
	// keeps for validation, in (0, 1); default 0.2.
	ValSplit float64 `json:"val_split"`
	// ImageSize is the training resolution in pixels (at least 16);
	// default: a gtl checkpoint's, 224 with other weights, and from
	// scratch the data's own scale: 32 for Fashion-MNIST, 64 for folders.
	ImageSize int `json:"image_size"`
	// OnBadImage is fail (default: stop, naming the image) or skip (leave
	// unreadable images out and report them).
	OnBadImage string `json:"on_bad_image"`
	// Workers is the number of goroutines decoding and augmenting ahead of
	// training; default 0: one per CPU.
	Workers int `json:"workers"`
	// Labels is a CSV file of image paths (relative to Source, then a
	// folder of images in any layout) and their labels, read instead of
	// class folders (see datasets.ReadCSVLabels); default "": none.
	// FnCol, LabelCol and ValidCol name its columns (a header name or a
	// 0-based index; fastai's from_csv defaults: 0, 1 and is_valid, used
	// when present, else a split column, else ValSplit).
	Labels   string `json:"labels,omitempty"`
	FnCol    string `json:"fn_col,omitempty"`
	LabelCol string `json:"label_col,omitempty"`
	ValidCol string `json:"valid_col,omitempty"`
	// MultiLabel reads every row of Labels as a set of labels (fastai's
	// MultiCategoryBlock): the classes are the sorted union of the tags,
	// each image's target is a multi-hot vector, and the head is trained
	// with a sigmoid and binary cross-entropy (PyTorch's
	// BCEWithLogitsLoss); default false. Needs Labels.
	MultiLabel bool `json:"multi_label,omitempty"`
	// LabelDelim separates the labels of a row (fastai's label_delim);
	// default " " with MultiLabel, and only used with it.
	LabelDelim string `json:"label_delim,omitempty"`
	// CSVDelimiter separates the columns of Labels (fastai's delimiter):
	// one character, or "tab"; default "": the one of , ; tab and | that
	// splits the header line into the most fields, "," on a tie (see
	// datasets.SniffDelimiter). Needs Labels.
	CSVDelimiter string `json:"csv_delimiter,omitempty"`
	// Suffix is appended to every image path of Labels (fastai's suff),
	// for ids without their extension; default "": none. Needs Labels.
	Suffix string `json:"suffix,omitempty"`
}

// ModelSpec is the model of a run: an architecture, from random
// initialisation or from source weights, whose head is replaced for the
// data's classes when they differ from the weights'.
type ModelSpec struct {
	// Arch is the architecture (see vision.Architectures); optional with a
	// gtl checkpoint, whose JSON names it.
	Arch string `json:"model"`
	// Weights is a weights file (torchvision .pth/.pt, .safetensors, gotch
	// .ot, or a gtl checkpoint); Pretrained fetches torchvision's ImageNet
	// weights for Arch instead. Neither: training from scratch.
	Weights    string `json:"weights"`
	Pretrained bool   `json:"pretrained,omitempty"`
	// WeightsKey names the entry of a wrapping checkpoint to load (e.g.
	// state_dict_ema; default "": the plain weights, see vision.OpenOptions).
	WeightsKey string `json:"weights_key,omitempty"`
	// PretrainedName picks which of torchvision's weights Pretrained
	// fetches (default "": DEFAULT), or hf-hub:ORG/NAME for timm weights.
	PretrainedName string `json:"pretrained_name,omitempty"`
	// NumClasses must be 0 (default: the data's) or the data's class count.
	NumClasses int `json:"num_classes,omitempty"`
	// WeightsPrefix selects the tensors under a prefix of the weights file
	// and strips it (a self-supervised backbone under module.encoder_q.,
	// see vision.OpenOptions.WeightsPrefix); default "": the top level.
	WeightsPrefix string `json:"weights_prefix,omitempty"`
	// AllowNonFinite loads weights that hold NaN or Inf (refused by
	// default, naming the tensors); default false.
	AllowNonFinite bool `json:"allow_nonfinite,omitempty"`
}

// TrainSpec is how a run trains. Its defaults are one table, applied by
// RunSpec.Resolve (see withDefaults); a strategy (Strategy) fills the
// fields it decides before that (see strategies.Plan).
type TrainSpec struct {
	// Strategy names the strategy that fills this spec (scratch, linear,
	// freeze-N, full, gradual or auto, see RunEnv.Plan); it is recorded
	// and decides the augmentation default. Default "": none.
	Strategy string `json:"strategy"`
	// Freeze keeps stages fixed from the stem: "" or "0" (default: none),
	// a count N below the model's stage count, or "all" (every stage but
	// the head: the feature extractor, which trains the head on features
	// computed once unless NoCache or augmentation is on). Freezing needs
	// source weights.
	Freeze string `json:"freeze"`
	// BNPolicy is eval (default: frozen stages' batch norms keep their
	// statistics) or train (they follow the data).
	BNPolicy string `json:"bn_policy"`
	// UnfreezeAt lists epochs (1 to Epochs-1) after which one more frozen
	// stage, top-down, starts training (gradual unfreezing); default none.
	UnfreezeAt []int `json:"unfreeze_at"`
	// NoCache runs the frozen stages every step instead of computing them
	// once per image: with Freeze "all", the backbone instead of its cached
	// features; with Freeze N, the frozen prefix (see CacheLimit). The naive
	// path, for comparisons.
	NoCache bool `json:"no_cache,omitempty"`
	// CacheLimit caps, in bytes, the activations of a frozen prefix
	// (Freeze N without augmentation or UnfreezeAt) computed once per
	// training and validation image instead of every step; over it the run
	// trains through the frozen stages. Default 0: GTL_FROZEN_CACHE_MB
	// (default 2048 MiB); negative: never cache. RunConfig.FrozenCache
	// records what the run did.
	CacheLimit int64 `json:"cache_limit,omitempty"`
	// LR is the head's learning rate; default 0.01 when fine-tuning, 0.05
	// from scratch (timm: fine-tune at about 1/10 of the scratch rate).
	LR float64 `json:"lr"`
	// LRDecay gives stage k below the head the rate LR·LRDecay^k; default 1.
	LRDecay float64 `json:"lr_decay"`
	// WeightDecay applies to weights, not biases and norms; default 0.
	WeightDecay float64 `json:"weight_decay"`
	// Optimizer is sgd (default) or adamw; Momentum is SGD's (default 0.9,
	// torchvision's reference recipes; negative: none).
	Optimizer string  `json:"optimizer"`
	Momentum  float64 `json:"momentum"`
	// Schedule is constant, cosine, step or onecycle (see ParseSchedule);
	// Warmup the share of the steps spent warming up. Default constant,
	// but cosine with Warmup FineTuneWarmup for a plain fine-tuning run
	// (source weights, no Strategy; see FineTuneMinSteps).
	Schedule string  `json:"schedule"`
	Warmup   float64 `json:"warmup"`
	// LabelSmoothing is in [0, 1); ClipGrad caps the gradients' global L2
	// norm (0: off); EMA, in [0, 1), keeps an exponential moving average of
	// the weights that validation and checkpoints use (0: off).
	LabelSmoothing float64 `json:"label_smoothing"`
	ClipGrad       float64 `json:"clip_grad"`
	EMA            float64 `json:"ema"`
	// Epochs defaults to 3 when fine-tuning (at least FineTuneMinSteps
	// steps for a plain fine-tuning run), 5 from scratch; Batch (images per
	// step, per rank) to 32; EvalEvery (validate every this many epochs,
	// and after the last) to 1.
	Epochs    int `json:"epochs"`
	Batch     int `json:"batch"`
	EvalEvery int `json:"eval_every"`
	// Augment is none (default), light (random resized crop 35-100% +
	// flip) or strong (crop 8-100% + flip + TrivialAugmentWide).
	Augment string `json:"augment"`
	// Mixup and CutMix are alphas (0: off; both: one of the two per
	// batch); Erase is the random-erasing probability per image (0: off).
	Mixup  float64 `json:"mixup"`
	CutMix float64 `json:"cutmix"`
	Erase  float64 `json:"erase"`
	// AMP is mixed precision in the training step: "" or none (default:
	// float32), bf16 (autocast to bfloat16, CPU and CUDA) or fp16 (autocast
	// to float16 with dynamic loss scaling as torch.cuda.amp.GradScaler:
	// scale 2^16, halved on a step with non-finite gradients, which is
	// skipped, doubled after 2000 clean steps; CUDA only).
	AMP string `json:"amp,omitempty"`
	// ChannelsLast keeps the batches and the model's 4-D weights in
	// channels-last (NHWC) memory format; default false.
	ChannelsLast bool `json:"channels_last,omitempty"`
	// CuDNNBenchmark lets cuDNN time its algorithms for each input shape
	// (torch.backends.cudnn.benchmark); TF32 allows TensorFloat-32 in
	// float32 convolutions and matrix products (Ampere and later). CUDA
	// only; default false.
	CuDNNBenchmark bool `json:"cudnn_benchmark,omitempty"`
	TF32           bool `json:"tf32,omitempty"`
	// LRFind, when set, runs the LR finder before training and trains at
	// the rate it suggests (see LRFindSpec), which replaces LR and is
	// recorded as LR with the sweep in RunResult.LRFind; default nil: LR.
	LRFind *LRFindSpec `json:"lr_find,omitempty"`
	// Patience stops training after this many validated epochs without an
	// improvement of Monitor by more than MinDelta, and makes the best
	// epoch's weights the final model (see EarlyStop); default 0: off.
	// Monitor is val_loss (default) or val_acc; MinDelta is in the
	// monitored unit (loss, or accuracy as a fraction), default 0 (Keras'
	// EarlyStopping, fastai's EarlyStoppingCallback).
	Patience int     `json:"patience,omitempty"`
	Monitor  string  `json:"monitor,omitempty"`
	MinDelta float64 `json:"min_delta,omitempty"`
	// ClassWeights weights each class's term of the cross-entropy, as
	// PyTorch's nn.CrossEntropyLoss(weight=...): "" or none (default: all
	// 1), auto (inverse frequency normalised, N/(K·n_c), see
	// BalancedClassWeights) or a CSV file (see ReadClassWeights).
	ClassWeights string `json:"class_weights,omitempty"`
	// Sampler is random (default: every image once per epoch, shuffled)
	// or balanced (each epoch draws as many images with replacement, each
	// with probability ∝ 1/n_c, from Seed and the epoch, see
	// BalancedOrder).
	Sampler string `json:"sampler,omitempty"`
	// Threshold is a multi-label run's (Data.MultiLabel) threshold, the
	// probability a class must exceed to be predicted, used by the
	// validation's F1 and written into the checkpoints: "" (default:
	// metrics.DefaultThreshold, 0.5, for every class), a probability in
	// [0, 1] for every class, or tune: every validation picks each class's
	// threshold maximising its F1 on the validation images
	// (metrics.TuneThresholds) and each checkpoint carries those tuned with
	// its own weights. mAP, and so the best epoch and early stopping, do
	// not depend on it. tune needs validation images.
	Threshold string `json:"threshold,omitempty"`
}

// RunHooks receive a run's progress. Any may be nil. They run on the
// torch worker thread, except OnOpen and OnSkipped, which run on Run's
// goroutine.
type RunHooks struct {
	// OnSkipped lists images left out while reading the data (OnBadImage
	// skip); those left out during training are in RunResult.Skipped.
	OnSkipped func(names []string)
	// OnUnsupported lists an image folder's files left out for their type.
	OnUnsupported func(names []string)
	// OnOpen receives the opened model and its load report.
	OnOpen func(*vision.Opened)
	// OnPlan receives the strategy RunEnv.Plan chose.
	OnPlan func(PlanChoice)
	// OnStart is called before the first step.
	OnStart func(RunStart)
	OnStep  func(Step)
	// OnEpochEnd is called after each epoch, before its metrics and
	// checkpoints are written; an error stops the run (ErrStop: stop
	// cleanly, with the epoch's checkpoint and a resumable state).
	OnEpochEnd func(Epoch) error
	// OnUnfreeze reports a stage unfrozen by UnfreezeAt (0-based index).
	OnUnfreeze func(stage int, name string)
	// OnLRFind receives the LR finder's result (Train.LRFind) once the
	// sweep is done and its files are written, before OnStart; a resumed
	// run passes the rate its first part found, without a curve (LRs
	// empty). Not called by FindLR, which returns the result.
	OnLRFind func(*LRFindResult)
}

// RunStart is what OnStart learns: the model, the loop's plan, and the
// number of frozen stages.
type RunStart struct {
	Model   *vision.Model
	Plan    Plan
	Frozen  int
	Classes []string
	Size    int
	Batch   int // images per step (per rank in a data-parallel run)
	// FrozenCache says whether the frozen stages (Freeze N) run once per
	// image or every step, and why; nil without frozen stages or with
	// Freeze "all".
	FrozenCache *PrefixCache
}

// ImageNetNorm is the per-channel normalisation every run applies:
// torchvision's ImageNet mean and standard deviation.
var ImageNetNorm = vision.Normalize{Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}}

// FieldError is a spec value that cannot be used. Its message refers to
// fields by their path in RunSpec ("Train.Freeze"); Render lets a caller
// name them its own way (gtl's flags).
type FieldError struct {
	Field string // the field at fault, e.g. "Train.Freeze"
	msg   string // with {Path} placeholders
	err   error
}

// FieldErrorf returns a FieldError for field; in format, {Data.Shots}
// (any field path in braces) is a reference to a field.
func FieldErrorf(field, format string, args ...any) *FieldError {
	err := fmt.Errorf(format, args...)
	return &FieldError{Field: field, msg: err.Error(), err: errors.Unwrap(err)}
}

var fieldRef = regexp.MustCompile(`\{([A-Z][A-Za-z0-9]*(\.[A-Z][A-Za-z0-9]*)*)\}`)

// Render returns the message with each field reference replaced by
// name(path).
func (e *FieldError) Render(name func(path string) string) string {
	return fieldRef.ReplaceAllStringFunc(e.msg, func(ref string) string { return name(ref[1 : len(ref)-1]) })
}

func (e *FieldError) Error() string {
	return "finetune: " + e.Render(func(p string) string { return p })
}

func (e *FieldError) Unwrap() error { return e.err }

// FineTune reports whether the spec starts from source weights.
func (s *RunSpec) FineTune() bool { return s.Model.Weights != "" || s.Model.Pretrained }

// Resolve returns the spec with every default filled in, or the first
// field that cannot be used. It reads no data and builds no model (it
// reads a gtl checkpoint's JSON for the default resolution); checks that
// need the model (the stage count for Freeze) are Run's, and so is the
// strategy's plan (RunEnv.Plan), which replaces the defaults of the fields
// it decides where the caller left them unset.
func (s RunSpec) Resolve() (RunSpec, error) {
	if s.resolved {
		return s, nil
	}
	s.given = s.Train
	m, t := &s.Model, &s.Train
	fineTune := s.FineTune()
	var err error
	if s.Data, err = s.Data.Resolve(); err != nil {
		return s, err
	}
	if m.Weights != "" && m.Pretrained {
		return s, FieldErrorf("Model.Weights", "either {Model.Weights} or {Model.Pretrained}, not both")
	}
	if m.NumClasses < 0 {
		return s, FieldErrorf("Model.NumClasses", "{Model.NumClasses} %d: want at least 1 (or 0 for the weights' own)", m.NumClasses)
	}
	if m.Arch == "" && m.Weights == "" {
		return s, FieldErrorf("Model.Arch", "{Model.Arch} is required (or {Model.Weights} with a gtl checkpoint)")
	}
	if s.Device == "" {
		s.Device = "auto"
	}
	dev, err := torch.ParseDevice(s.Device)
	if err != nil {
		return s, FieldErrorf("Device", "{Device}: %w", err)
	}
	s.dev = dev
	if m.Weights != "" {
		if s.meta, err = vision.ReadMeta(m.Weights); err != nil {
			return s, FieldErrorf("Model.Weights", "{Model.Weights}: %w", err)
		}
	}
	if t.Strategy == "auto" && !fineTune {
		return s, FieldErrorf("Train.Strategy", "{Train.Strategy} auto: needs source weights ({Model.Weights} or {Model.Pretrained}) to measure the target against")
	}
	if t.Schedule == "" && fineTune && t.Strategy == "" {
		// A plain fine-tuning run (see FineTuneMinSteps).
		t.Schedule = "cosine"
		if t.Warmup == 0 {
			t.Warmup = FineTuneWarmup
		}
	}
	if *t, err = t.withDefaults(fineTune); err != nil {
		return s, err
	}
	if err := t.checkDevice(dev); err != nil {
		return s, err
	}
	if s.Data.ImageSize == 0 {
		s.Data.ImageSize = defaultSize(s)
	}
	if _, err := s.augmentation(); err != nil {
		return s, err
	}
	if err := checkMultiLabel(s, RunEnv{}); err != nil { // before any weights or images are read
		return s, err
	}
	if t.Freeze != "0" && m.Arch != "" { // checked against the architecture's description (nothing is built)
		if stages, err := vision.StageCount(m.Arch); err == nil {
			if _, _, err := t.freezing(stages); err != nil {
				return s, err
			}
		}
	}
	if t.Freeze != "0" && !fineTune { // refused before any data is read
		return s, FieldErrorf("Train.Freeze", "{Train.Freeze} %s: without source weights ({Model.Weights} or {Model.Pretrained}) the frozen stages would keep their random initialisation", t.Freeze)
	}
	if s.SaveEvery < 0 {
		return s, FieldErrorf("SaveEvery", "{SaveEvery} %d: want a number of epochs, or 0 (every epoch for runs over a minute, else at the end)", s.SaveEvery)
	}
	if s.CheckpointEvery < 0 {
		return s, FieldErrorf("CheckpointEvery", "{CheckpointEvery} %d: want a number of steps, or 0 (at epoch ends only)", s.CheckpointEvery)
	}
	if (s.SaveEvery != 0 || s.CheckpointEvery != 0) && s.Out == "" {
		field := map[bool]string{true: "SaveEvery", false: "CheckpointEvery"}[s.SaveEvery != 0]
		return s, FieldErrorf(field, "{%s} needs {Out}, the folder the states are written to", field)
	}
	if s.Resume {
		if s.Out == "" {
			return s, FieldErrorf("Resume", "{Resume} needs {Out}, the folder of the run to continue")
		}
		if _, err := os.Stat(filepath.Join(s.Out, "trainer-state.json")); err != nil {
			return s, FieldErrorf("Resume", "{Resume}: %s holds no resumable run (no trainer-state.json)", s.Out)
		}
	}
	s.resolved = true
	return s, nil
}

// withDefaults is the one table of training defaults (each field's comment
// states its default), then the checks of check. fineTune selects the
// fine-tuning rate and epochs over the scratch ones.
func (t TrainSpec) withDefaults(fineTune bool) (TrainSpec, error) {
	if t.LR == 0 {
		t.LR = map[bool]float64{true: 0.01, false: 0.05}[fineTune]
	}
	if t.Epochs == 0 {
		t.Epochs = map[bool]int{true: 3, false: 5}[fineTune]
	}
	if t.Batch == 0 {
		t.Batch = 32
	}
	if t.LRDecay == 0 {
		t.LRDecay = 1
	}
	if t.EvalEvery == 0 {
		t.EvalEvery = 1
	}
	if t.Optimizer == "" {
		t.Optimizer = "sgd"
	}
	if t.Momentum == 0 {
		t.Momentum = 0.9
	}
	if t.Schedule == "" {
		t.Schedule = "constant"
	}
	if t.BNPolicy == "" {
		t.BNPolicy = "eval"
	}
	if t.Freeze == "" {
		t.Freeze = "0"
	}
	if t.Augment == "" {
		// No augmentation unless asked, fine-tuning included: gtl
		// compare's strategies train without it, and on the demo's similar
		// target (20 digit glyphs per class) light augmentation cost 10
		// points (83.6% against 93.8%; a flipped glyph is another glyph).
		// Photographs and longer runs: ask for light or strong.
		t.Augment = "none"
	}
	if t.AMP == "" {
		t.AMP = "none"
	}
	if t.LRFind != nil {
		f, err := t.LRFind.withDefaults()
		if err != nil {
			return t, err
		}
		t.LRFind = &f // a copy: the caller's spec keeps its own
	}
	if t.Patience > 0 && t.Monitor == "" {
		t.Monitor = "val_loss"
	}
	return t, t.check()
}

// check returns the first training field set to a value that cannot be
// used (zero values pass: they are defaults).
func (t TrainSpec) check() error {
	if t.Epochs < 0 || t.Batch < 0 || t.LR < 0 || math.IsNaN(t.LR) || math.IsInf(t.LR, 0) || t.LRDecay < 0 || t.WeightDecay < 0 || t.EvalEvery < 0 {
		return FieldErrorf("Train.LR", "{Train.Epochs}, {Train.Batch}, {Train.LR} and {Train.LRDecay}: want positive values; {Train.WeightDecay}: 0 or more")
	}
	switch {
	case t.Optimizer != "" && t.Optimizer != "sgd" && t.Optimizer != "adamw":
		return FieldErrorf("Train.Optimizer", "{Train.Optimizer} %s: want sgd or adamw", t.Optimizer)
	case t.EMA < 0 || t.EMA >= 1:
		return FieldErrorf("Train.EMA", "{Train.EMA} %g: want a decay in [0, 1), e.g. 0.999", t.EMA)
	case t.ClipGrad < 0:
		return FieldErrorf("Train.ClipGrad", "{Train.ClipGrad} %g: want 0 (off) or more", t.ClipGrad)
	case t.LabelSmoothing < 0 || t.LabelSmoothing >= 1:
		return FieldErrorf("Train.LabelSmoothing", "{Train.LabelSmoothing} %g: want a value in [0, 1)", t.LabelSmoothing)
	case t.BNPolicy != "" && t.BNPolicy != "eval" && t.BNPolicy != "train":
		return FieldErrorf("Train.BNPolicy", "{Train.BNPolicy} %s: want eval or train", t.BNPolicy)
	}
	if err := t.checkImbalance(); err != nil {
		return err
	}
	if t.Schedule != "" {
		if _, err := ParseSchedule(t.Schedule, t.Warmup); err != nil {
			return FieldErrorf("Train.Schedule", "{Train.Schedule} %s {Train.Warmup} %g: %w", t.Schedule, t.Warmup, err)
		}
	}
	if err := t.checkEarlyStop(); err != nil {
		return err
	}
	if _, _, err := t.thresholds(1); err != nil {
		return err
	}
	if t.LRFind != nil {
		if _, err := t.LRFind.withDefaults(); err != nil {
			return err
		}
	}
	if _, err := torch.ParseAMP(ampName(t.AMP)); err != nil {
		return FieldErrorf("Train.AMP", "{Train.AMP} %s: want none, bf16 or fp16", t.AMP)
	}
	return nil
}

// CheckOn checks t's values (zero fields pass) and its device choices
// against device (see RunSpec.Device), as Resolve does: for callers that
// fill specs from a template, like gtl compare's grid.
func (t TrainSpec) CheckOn(device string) error {
	if device == "" {
		device = "auto"
	}
	dev, err := torch.ParseDevice(device)
	if err != nil {
		return FieldErrorf("Device", "{Device}: %w", err)
	}
	if err := t.check(); err != nil {
		return err
	}
	return t.checkDevice(dev)
}

// checkDevice refuses the choices that only CUDA has on another device.
func (t TrainSpec) checkDevice(dev gotch.Device) error {
	if dev.IsCuda() {
		return nil
	}
	switch {
	case t.AMP == "fp16":
		return FieldErrorf("Train.AMP", "{Train.AMP} fp16 needs a CUDA device (float16 autocast and loss scaling); on the CPU use bf16")
	case t.CuDNNBenchmark:
		return FieldErrorf("Train.CuDNNBenchmark", "{Train.CuDNNBenchmark} needs a CUDA device (cuDNN); this run is on the CPU")
	case t.TF32:
		return FieldErrorf("Train.TF32", "{Train.TF32} needs a CUDA device (TensorFloat-32 on Ampere or later); this run is on the CPU")
	}
	return nil
}

// ampName maps the spec's AMP to torch.ParseAMP's names ("none" is off).
func ampName(s string) string {
	if s == "none" {
		return ""
	}
	return s
}

// Precision returns the mixed precision AMP names (torch.AMPOff for ""
// and none); a value check would refuse is AMPOff too.
func (t TrainSpec) Precision() torch.AMP { return t.amp() }

// amp returns the spec's mixed precision.
func (t TrainSpec) amp() torch.AMP {
	a, _ := torch.ParseAMP(ampName(t.AMP)) // checked by check
	return a
}

// Resolve returns the data spec with its defaults filled in (but for
// ImageSize, whose default depends on the model), or the first field that
// cannot be used.
func (d DataSpec) Resolve() (DataSpec, error) {
	if d.Source == "" {
		d.Source = "fashion-mnist"
	}
	if err := d.resolveMultiLabel(); err != nil {
		return d, err
	}
	if err := d.checkLabelsOnly(); err != nil {
		return d, err
	}
	if d.Labels != "" {
		if err := d.resolveLabels(); err != nil {
			return d, err
		}
	} else if d.Source != "fashion-mnist" {
		if why := datasets.DescribeSource(d.Source); why != "" {
			return d, FieldErrorf("Data.Source", "{Data.Source} %s: %s", d.Source, why)
		}
		if d.Classes != "" {
			return d, FieldErrorf("Data.Classes", "{Data.Classes} applies to fashion-mnist; an image folder is used with all its classes")
		}
	}
	if d.Shots < 0 || d.Val < 0 {
		return d, FieldErrorf("Data.Shots", "{Data.Shots} %d, {Data.Val} %d: want 0 (all) or more", d.Shots, d.Val)
	}
	if d.Val == 0 && d.Source == "fashion-mnist" {
		d.Val = 2000
	}
	switch {
	case d.ValSplit == 0:
		d.ValSplit = 0.2
	case d.ValSplit < 0 || d.ValSplit >= 1:
		return d, FieldErrorf("Data.ValSplit", "{Data.ValSplit} %g: want a share in (0, 1)", d.ValSplit)
	}
	switch d.OnBadImage {
	case "":
		d.OnBadImage = "fail"
	case "fail", "skip":
	default:
		return d, FieldErrorf("Data.OnBadImage", "{Data.OnBadImage} %s: want fail or skip", d.OnBadImage)
	}
	if d.Workers < 0 {
		return d, FieldErrorf("Data.Workers", "{Data.Workers} %d: want 0 (one per CPU) or more", d.Workers)
	}
	if d.ImageSize != 0 && d.ImageSize < 16 {
		return d, FieldErrorf("Data.ImageSize", "{Data.ImageSize} %d: want at least 16", d.ImageSize)
	}
	return d, nil
}

// defaultSize is the resolution of a spec without Data.ImageSize: the
// one a gtl checkpoint was trained at, 224 for torchvision weights, else
// the data's own scale (Fashion-MNIST's 28 px rounded up to 32; 64 for
// folders).
func defaultSize(s RunSpec) int {
	if s.meta != nil && s.meta.Preprocess.CropSize > 0 {
		return s.meta.Preprocess.CropSize
	}
	if s.FineTune() {
		return 224
	}
	if s.Data.Source == "fashion-mnist" {
		return 32
	}
	return 64
}

// augmentation builds the resolved spec's augmentation.
func (s RunSpec) augmentation() (Augmentation, error) {
	var a Augmentation
	t := s.Train
	if t.Augment == "" { // a strategy's plan sets it; none until then
		t.Augment = "none"
	}
	p, err := augment.Preset(t.Augment, s.Data.ImageSize)
	if err != nil {
		return a, FieldErrorf("Train.Augment", "{Train.Augment} %s: want none, light or strong", t.Augment)
	}
	if t.Augment != "none" {
		a.Transform = p
	}
	if t.Erase != 0 {
		a.Erase = &augment.RandomErasing{P: t.Erase}
		if err := a.Erase.Validate(); err != nil {
			return a, FieldErrorf("Train.Erase", "{Train.Erase} %g: %w", t.Erase, err)
		}
	}
	if t.Mixup != 0 || t.CutMix != 0 {
		a.Mix = &augment.MixCutMix{MixupAlpha: t.Mixup, CutMixAlpha: t.CutMix, Prob: 1, SwitchProb: 0.5}
		if err := a.Mix.Validate(); err != nil {
			return a, FieldErrorf("Train.Mixup", "{Train.Mixup} %g {Train.CutMix} %g: %w", t.Mixup, t.CutMix, err)
		}
	}
	a.Workers, a.OnBadImage = s.Data.Workers, s.Data.OnBadImage
	return a, nil
}

// freezing reads Train.Freeze for a model of the given number of stages
// (head included): the stages to freeze, and whether it is "all".
func (t TrainSpec) freezing(stages int) (n int, all bool, err error) {
	if t.Freeze == "all" {
		return stages - 1, true, nil
	}
	n, err = strconv.Atoi(t.Freeze)
	if err != nil || n < 0 {
		return 0, false, FieldErrorf("Train.Freeze", "{Train.Freeze} %s: want a number of stages or all", t.Freeze)
	}
	if n >= stages {
		return 0, false, FieldErrorf("Train.Freeze", "{Train.Freeze} %d: the model has %d stages (the last is the head); at most %d, or all", n, stages, stages-1)
	}
	return n, false, nil
}

// unfreezeEpochs checks Train.UnfreezeAt against the epochs.
func (t TrainSpec) unfreezeEpochs() (map[int]bool, error) {
	out := map[int]bool{}
	for _, e := range t.UnfreezeAt {
		if e < 1 || e >= t.Epochs {
			return nil, FieldErrorf("Train.UnfreezeAt", "{Train.UnfreezeAt} %s: %q is not an epoch between 1 and %d", JoinEpochs(t.UnfreezeAt), strconv.Itoa(e), t.Epochs-1)
		}
		out[e] = true
	}
	return out, nil
}

// JoinEpochs writes a list of epochs as "1,2".
func JoinEpochs(es []int) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = strconv.Itoa(e)
	}
	return strings.Join(s, ",")
}

// ParseEpochs reads a list of epochs like "1,2" ("" is none).
func ParseEpochs(s string) ([]int, error) {
	var out []int
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	for _, f := range strings.Split(s, ",") {
		e, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, FieldErrorf("Train.UnfreezeAt", "{Train.UnfreezeAt} %s: %q is not an epoch", s, f)
		}
		out = append(out, e)
	}
	return out, nil
}

// Defaults of a plain fine-tuning run (source weights, no Train.Strategy):
// the user's first command should land near the best strategy of gtl
// compare rather than stop after a handful of steps at a constant rate.
// Measured (README, "What the demo shows"): from the demo's letters source
// onto 20 rendered digits per class, the old defaults (3 epochs of 6 steps,
// constant rate, light augmentation) reached 49.8%; a cosine schedule with
// a 10% linear warm-up (timm's fine-tuning recipe; fastai's fine_tune uses
// one-cycle, also warm-up then decay) and at least 100 steps 83.6%; the
// same without augmentation 93.8%, above the best of gtl compare's grid at
// that size (freeze-2 89.8%).
const (
	FineTuneWarmup   = 0.1 // share of training spent warming the rate up
	FineTuneMinSteps = 100 // optimisation steps at least, however small the data
)
