package server

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronExpr is a 5-field cron expression (minute hour day-of-month month day-of-week), in UTC.
// Each field is *, a number, a range a-b, any of them with /step, or a comma list of those.
// Day of week is 0-7 (0 and 7 are Sunday). As in cron, when both day fields are restricted a
// day matching either one matches.
type cronExpr struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domStar, dowStar              bool
}

var cronFields = []struct {
	name     string
	min, max int
}{{"minute", 0, 59}, {"hour", 0, 23}, {"day of month", 1, 31}, {"month", 1, 12}, {"day of week", 0, 7}}

// parseCron parses a 5-field cron expression.
func parseCron(s string) (*cronExpr, error) {
	f := strings.Fields(s)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", s, len(f))
	}
	var bits [5]uint64
	for i, field := range f {
		b, err := parseCronField(field, cronFields[i].min, cronFields[i].max)
		if err != nil {
			return nil, fmt.Errorf("cron %q: %s: %w", s, cronFields[i].name, err)
		}
		bits[i] = b
	}
	if bits[4]&(1<<7) != 0 { // 7 is Sunday too
		bits[4] |= 1
	}
	return &cronExpr{minute: bits[0], hour: bits[1], dom: bits[2], month: bits[3], dow: bits[4],
		domStar: f[2] == "*", dowStar: f[4] == "*"}, nil
}

func parseCronField(field string, min, max int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(field, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 {
				return 0, fmt.Errorf("step %q is not a positive number", stepText)
			}
			step = n
		}
		lo, hi := min, max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = cronNumber(a, min, max); err != nil {
				return 0, err
			}
			if hi, err = cronNumber(b, min, max); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("range %q runs backwards", rng)
			}
		default:
			n, err := cronNumber(rng, min, max)
			if err != nil {
				return 0, err
			}
			lo, hi = n, n
			if hasStep {
				hi = max // "5/15" is 5, 20, 35, 50
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << v
		}
	}
	return bits, nil
}

func cronNumber(s string, min, max int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < min || n > max {
		return 0, fmt.Errorf("%q is not a number from %d to %d", s, min, max)
	}
	return n, nil
}

func (c *cronExpr) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<t.Day()) != 0
	dow := c.dow&(1<<int(t.Weekday())) != 0
	switch {
	case c.domStar || c.dowStar:
		return dom && dow
	default:
		return dom || dow
	}
}

// Next returns the first matching minute strictly after t (UTC), or the zero time when none
// comes within 5 years (e.g. 30 February).
func (c *cronExpr) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		switch {
		case c.month&(1<<int(t.Month())) == 0:
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
		case !c.dayMatches(t):
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
		case c.hour&(1<<t.Hour()) == 0:
			t = t.Truncate(time.Hour).Add(time.Hour)
		case c.minute&(1<<t.Minute()) == 0:
			t = t.Add(time.Minute)
		default:
			return t
		}
	}
	return time.Time{}
}
