package images_test

import (
	"fmt"

	"github.com/vkvgg/vkvgg/images"
)

func ExampleLoadVGG() {
	img, err := images.LoadVGG("../testdata/images/chelsea.jpg", 224)
	if err != nil {
		fmt.Println(err)
		return
	}
	shape, data, err := images.Batch([]images.RGB{img})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(shape, len(data))
	// Output: [1 224 224 3] 150528
}

func ExampleLoad_error() {
	_, err := images.Load("../testdata/images/SOURCES.md")
	fmt.Println(err)
	// Output: images: ../testdata/images/SOURCES.md: unknown image format (want JPEG, PNG, GIF, WebP or BMP)
}
