// Package synset names the 1000 ImageNet classes that VGG16 and VGG19 predict.
//
// The list is tensorflow-vgg's synset.txt, embedded in the binary: one line per
// class, in class-index order, each a WordNet id and the class's names,
//
//	n01440764 tench, Tinca tinca
//
// so that index i of a network's 1000-way output is Lookup(i).
//
// # Predictions
//
// TopK turns a probability vector into the k most likely classes, sorted by
// descending probability, ties broken by the lower index. A vector of any other
// length than 1000 (a model fine-tuned on its own classes) is accepted too; its
// classes are then named "class N" and have no WordNet id.
package synset
