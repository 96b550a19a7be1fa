package main

import (
	"os"

	"github.com/genai-platform/genai-platform-operator/internal/preview"
)

// runRender is `manager render`: the offline preview of the objects the operator would create.
func runRender(args []string) int {
	return preview.Main(args, os.Stdout, os.Stderr)
}
