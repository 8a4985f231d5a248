# vkvgg: make demo runs the main job on built-in random weights; make test
# runs every test (GPU tests on lavapipe where no GPU exists, with the
# Khronos validation layer on).

GO ?= go
WEIGHTS ?= random:vgg16
IMAGES := testdata/images/chelsea.jpg testdata/images/coffee_rgba.png testdata/images/rocket_gray.jpg

.PHONY: all build deps deps-test demo test test-short test-nocgo test-nodriver test-beam vet shaders bench fuzz clean

all: build

build:
	$(GO) build ./...

# Installs the missing Debian packages (apt-get; sudo when not root).
deps:
	@.ci/deps

deps-test:
	@.ci/deps test

demo: deps
	$(GO) run ./tools/vkvgg classify --weights $(WEIGHTS) $(IMAGES)
	$(GO) run ./tools/vkvgg features --weights $(WEIGHTS) --layers pool5,fc7 --out demo_features.npz $(IMAGES)

# VKVGG_REQUIRE_GPU=1 makes a missing Vulkan device or validation layer a
# failure instead of a skip. The race detector runs the tests that share a
# Net between goroutines and cancel runs; VKVGG_STAGING=1 runs the engine
# through the staging path of discrete GPUs (device-only memory);
# VKVGG_KERNELS=gpu runs the networks again with the kernels GPUs get (the
# layers' tests run both families themselves).
test: deps-test vet
	VKVGG_REQUIRE_GPU=1 VKVGG_REQUIRE_DISPLAY=1 $(GO) test -count=1 -timeout 30m ./...
	VKVGG_REQUIRE_GPU=1 $(GO) test -race -count=1 -run 'TestConcurrentRuns|TestCancel|TestRunOnDeviceAsync' ./graph/
	VKVGG_STAGING=1 VKVGG_REQUIRE_GPU=1 $(GO) test -short -count=1 ./gpu/ ./layers/ ./graph/
	VKVGG_KERNELS=gpu VKVGG_REQUIRE_GPU=1 $(GO) test -short -count=1 ./graph/ ./vgg/
	$(MAKE) test-nocgo test-nodriver test-beam

# The Apache Beam pipeline (its own module, beam/) on Beam's Prism runner.
test-beam:
	cd beam && $(GO) vet ./... && $(GO) test -count=1 ./...

# A machine with the Vulkan loader but no driver: the GPU tests skip, every
# CPU test runs (VK_ICD_FILENAMES pointing nowhere hides every driver).
test-nodriver:
	VK_ICD_FILENAMES=/nonexistent/icd.json $(GO) test -short -count=1 ./...

# The build without cgo or Vulkan headers: everything but the Vulkan
# backend builds, the CPU tests run, and the command works on the CPU.
test-nocgo:
	CGO_ENABLED=0 $(GO) build ./...
	CGO_ENABLED=0 $(GO) test -short -count=1 ./...
	CGO_ENABLED=0 $(GO) run ./tools/vkvgg classify --device cpu --weights random:resnet18 --top 1 testdata/images/chelsea.jpg

test-short: vet
	$(GO) test -short ./...

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# Regenerates the SPIR-V (needs glslc and spirv-val); the tests fail when
# it is stale.
shaders:
	@.ci/deps shaders
	$(GO) generate ./shaders

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./layers/
	$(GO) test -run '^$$' -bench VGG16 -benchtime 2x ./vgg/
	$(GO) run ./tools/vkvgg bench --weights random:vgg16 --batches 1,8

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeWeights -fuzztime 5m ./npy/
	$(GO) test -run '^$$' -fuzz FuzzReadNPY -fuzztime 5m ./npy/
	$(GO) test -run '^$$' -fuzz FuzzDecodeTorch -fuzztime 5m ./npy/
	$(GO) test -timeout 0 -run '^$$' -fuzz FuzzLoadWeights -fuzztime 10m ./vgg/
	$(GO) test -timeout 0 -run '^$$' -fuzz FuzzBuild -fuzztime 5m ./torchvision/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 5m ./images/

clean:
	rm -f demo_features.npz
