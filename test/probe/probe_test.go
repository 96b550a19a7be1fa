package probe
import (
	_ "github.com/operator-framework/api/pkg/validation"
	_ "github.com/yuin/gopher-lua"
)
