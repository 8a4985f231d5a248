# vkvgg: make demo runs the main job on built-in random weights; make test
# runs every test (GPU tests on lavapipe where no GPU exists, with the
# Khronos validation layer on).

GO ?= go
WEIGHTS ?= random:vgg16
IMAGES := testdata/images/chelsea.jpg testdata/images/coffee_rgba.png testdata/images/rocket_gray.jpg

.PHONY: all build demo test test-short vet shaders bench fuzz clean

all: build

build:
	$(GO) build ./...

demo:
	$(GO) run ./tools/vkvgg classify --weights $(WEIGHTS) $(IMAGES)
	$(GO) run ./tools/vkvgg features --weights $(WEIGHTS) --layers pool5,fc7 --out demo_features.npz $(IMAGES)

# VKVGG_REQUIRE_GPU=1 makes a missing Vulkan device or validation layer a
# failure instead of a skip.
test: vet
	VKVGG_REQUIRE_GPU=1 $(GO) test -count=1 -timeout 30m ./...

test-short: vet
	$(GO) test -short ./...

vet:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# Regenerates the SPIR-V (needs glslc and spirv-val); the tests fail when
# it is stale.
shaders:
	$(GO) generate ./shaders

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./layers/
	$(GO) test -run '^$$' -bench VGG16 -benchtime 2x ./vgg/
	$(GO) run ./tools/vkvgg bench --weights random:vgg16 --batches 1,8

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecodeWeights -fuzztime 5m ./npy/
	$(GO) test -run '^$$' -fuzz FuzzReadNPY -fuzztime 5m ./npy/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime 2m ./images/

clean:
	rm -f demo_features.npz
