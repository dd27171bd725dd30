package diff

import (
	"cmp"
	"math/big"
	"strconv"
	"strings"

	"github.com/pgparity/pgparity/internal/catalog"
)

// compareKeys orders keys for presentation: integer and numeric columns by value, others by
// bytes. (The engine never relies on this order for correctness.)
func compareKeys(a, b Key, cols []catalog.Column) int {
	for i := range a {
		if c := compareText(a[i], b[i], cols[i]); c != 0 {
			return c
		}
	}
	return 0
}

func compareText(a, b string, c catalog.Column) int {
	switch c.Category {
	case "N":
		if x, err := strconv.ParseInt(a, 10, 64); err == nil {
			if y, err := strconv.ParseInt(b, 10, 64); err == nil {
				return cmp.Compare(x, y)
			}
		}
		x, okx := new(big.Rat).SetString(a)
		y, oky := new(big.Rat).SetString(b)
		if okx && oky {
			return x.Cmp(y)
		}
	}
	return strings.Compare(a, b)
}
