package models_test

import (
	"testing"

	"github.com/vkvgg/vkvgg/internal/testdev"
)

// TestMain fails the run if a test left a device open (testdev.Main).
func TestMain(m *testing.M) { testdev.Main(m) }
