package synset

import (
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestEmbeddedList(t *testing.T) {
	if got, want := Count(), 1000; got != want {
		t.Fatalf("Count() = %v, want %v", got, want)
	}
	// The file ends in one newline and has no blank or padded lines.
	if !strings.HasSuffix(synsetTxt, "\n") || strings.HasSuffix(synsetTxt, "\n\n") {
		t.Errorf("synset.txt does not end in exactly one newline")
	}
	line := regexp.MustCompile(`^n[0-9]{8} [^ ].*[^ ]$`)
	seen := make(map[string]int)
	prev := ""
	for i := range Count() {
		c, err := Lookup(i)
		if err != nil {
			t.Fatalf("Lookup(%d): %v", i, err)
		}
		if c.Index != i {
			t.Errorf("Lookup(%d).Index = %v, want %v", i, c.Index, i)
		}
		if s := c.String(); !line.MatchString(s) {
			t.Errorf("line %d = %q, want %q", i+1, s, line)
		}
		if j, ok := seen[c.WNID]; ok {
			t.Errorf("WNID %s at index %d and %d", c.WNID, j, i)
		}
		seen[c.WNID] = i
		// ImageNet numbers its classes in the order of their WordNet ids.
		if c.WNID <= prev {
			t.Errorf("WNID %s at index %d after %s: not ascending", c.WNID, i, prev)
		}
		prev = c.WNID
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		i    int
		want Class
	}{
		{0, Class{0, "n01440764", "tench, Tinca tinca"}},
		{1, Class{1, "n01443537", "goldfish, Carassius auratus"}},
		{281, Class{281, "n02123045", "tabby, tabby cat"}},
		{282, Class{282, "n02123159", "tiger cat"}},
		{386, Class{386, "n02504458", "African elephant, Loxodonta africana"}},
		{504, Class{504, "n03063599", "coffee mug"}},
		{657, Class{657, "n03773504", "missile"}},
		{967, Class{967, "n07920052", "espresso"}},
		{999, Class{999, "n15075141", "toilet tissue, toilet paper, bathroom tissue"}},
	}
	for _, tt := range tests {
		got, err := Lookup(tt.i)
		if err != nil {
			t.Errorf("Lookup(%d): %v", tt.i, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Lookup(%d) = %v, want %v", tt.i, got, tt.want)
		}
	}
}

func TestLookupOutOfRange(t *testing.T) {
	for _, i := range []int{-1, 1000, math.MaxInt, math.MinInt} {
		if c, err := Lookup(i); err == nil {
			t.Errorf("Lookup(%d) = %v, want an error", i, c)
		}
	}
}

// imagenetProbs returns 1000 probabilities with the given ones set.
func imagenetProbs(set map[int]float32) []float32 {
	p := make([]float32, 1000)
	for i, v := range set {
		p[i] = v
	}
	return p
}

func TestTopK(t *testing.T) {
	tabby, _ := Lookup(281)
	tiger, _ := Lookup(282)
	tench, _ := Lookup(0)
	goldfish, _ := Lookup(1)
	tests := []struct {
		name  string
		probs []float32
		k     int
		want  []Prediction
	}{
		{
			name:  "imagenet",
			probs: imagenetProbs(map[int]float32{281: 0.7, 282: 0.2, 0: 0.05}),
			k:     3,
			want:  []Prediction{{tabby, 0.7}, {tiger, 0.2}, {tench, 0.05}},
		},
		{
			// The rest are all 0: the lowest index wins the tie.
			name:  "ties by index",
			probs: imagenetProbs(map[int]float32{282: 0.5, 281: 0.5}),
			k:     4,
			want:  []Prediction{{tabby, 0.5}, {tiger, 0.5}, {tench, 0}, {goldfish, 0}},
		},
		{
			name:  "fine-tuned",
			probs: []float32{0.1, 0.6, 0.3},
			k:     2,
			want: []Prediction{
				{Class{Index: 1, Name: "class 1"}, 0.6},
				{Class{Index: 2, Name: "class 2"}, 0.3},
			},
		},
		{
			name:  "k larger than the vector",
			probs: []float32{0.25, 0.75},
			k:     5,
			want: []Prediction{
				{Class{Index: 1, Name: "class 1"}, 0.75},
				{Class{Index: 0, Name: "class 0"}, 0.25},
			},
		},
		{
			name:  "infinities and negatives",
			probs: []float32{-1, float32(math.Inf(1)), float32(math.Inf(-1)), 0},
			k:     4,
			want: []Prediction{
				{Class{Index: 1, Name: "class 1"}, float32(math.Inf(1))},
				{Class{Index: 3, Name: "class 3"}, 0},
				{Class{Index: 0, Name: "class 0"}, -1},
				{Class{Index: 2, Name: "class 2"}, float32(math.Inf(-1))},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := TopK(tt.probs, tt.k)
			if err != nil {
				t.Fatalf("TopK: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TopK = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTopKDoesNotModifyInput(t *testing.T) {
	probs := []float32{0.1, 0.5, 0.4}
	want := append([]float32(nil), probs...)
	if _, err := TopK(probs, 3); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(probs, want) {
		t.Errorf("probs after TopK = %v, want %v", probs, want)
	}
}

func TestTopKErrors(t *testing.T) {
	tests := []struct {
		name  string
		probs []float32
		k     int
	}{
		{"empty", nil, 1},
		{"k zero", []float32{1}, 0},
		{"k negative", []float32{1}, -3},
		{"NaN", []float32{0.5, float32(math.NaN())}, 1},
	}
	for _, tt := range tests {
		if got, err := TopK(tt.probs, tt.k); err == nil {
			t.Errorf("%s: TopK(%v, %d) = %v, want an error", tt.name, tt.probs, tt.k, got)
		}
	}
}

func TestPredictionString(t *testing.T) {
	tests := []struct {
		p    Prediction
		want string
	}{
		{Prediction{Class{281, "n02123045", "tabby, tabby cat"}, 0.8125}, "0.812 n02123045 tabby, tabby cat"},
		{Prediction{Class{Index: 3, Name: "class 3"}, 1}, "1.000 class 3"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("String() = %v, want %v", got, tt.want)
		}
	}
}
