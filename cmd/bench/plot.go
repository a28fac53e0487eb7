package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// writePlots writes, for each workload with results, dir/rss-WORKLOAD.png:
// one panel per system, one above the other on the same time scale, with the
// RSS of each member over time (thick lines), its live Go heap after each
// GC (thin lines of the same colour) and the workload's phases (dashed
// verticals). It returns the paths written.
func writePlots(dir string, ws []Workload, results []*Result) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, w := range ws {
		var rows []*Result
		for _, r := range results {
			if r.Workload == w.Name() {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		path := filepath.Join(dir, "rss-"+w.Name()+".png")
		if err := writePNG(path, plotWorkload(w.Name(), rows)); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

func writePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Plot geometry, in pixels.
const (
	plotWidth   = 1200
	panelHeight = 380
	titleHeight = 50
	marginLeft  = 110
	marginRight = 30
	marginTop   = 60 // of a panel: its title and the phase names
	marginBelow = 60 // of a panel: the time axis and its label
	textScale   = 2  // font pixels per glyph pixel
)

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{0, 0, 0, 255}
	gridGray  = color.RGBA{225, 225, 225, 255}
	phaseGray = color.RGBA{150, 150, 150, 255}
	// memberColors colour m1, m2, m3, ... in turn.
	memberColors = []color.RGBA{
		{31, 119, 180, 255}, // blue
		{255, 127, 14, 255}, // orange
		{44, 160, 44, 255},  // green
		{148, 103, 189, 255},
		{214, 39, 40, 255},
	}
)

// plotWorkload draws one workload's results, a panel per system.
func plotWorkload(workload string, rows []*Result) *image.RGBA {
	h := titleHeight + len(rows)*panelHeight
	img := image.NewRGBA(image.Rect(0, 0, plotWidth, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	drawText(img, marginLeft, 14, workload+": RSS (thick) and live Go heap after GC (thin) per member; own scale per panel", black)

	// The same time scale for every panel; each its own memory scale, so
	// that a system far below the other still shows its shape (the titles
	// give the peaks).
	var tMax time.Duration
	for _, r := range rows {
		for _, s := range r.Samples {
			tMax = max(tMax, s.At)
		}
	}
	tSecs := math.Max(tMax.Seconds(), 1)
	tStep := niceStep(tSecs / 8)
	tRight := math.Ceil(tSecs/tStep) * tStep

	for i, r := range rows {
		var yMax float64
		for _, s := range r.Samples {
			yMax = max(yMax, float64(s.RSS))
		}
		for _, hs := range r.Heap {
			yMax = max(yMax, float64(hs.Live))
		}
		yMax = math.Max(yMax/(1<<20), 1) // MiB
		yStep := niceStep(yMax / 5)
		yTop := math.Ceil(yMax/yStep) * yStep
		top := titleHeight + i*panelHeight
		area := image.Rect(marginLeft, top+marginTop, plotWidth-marginRight, top+panelHeight-marginBelow)
		plotPanel(img, area, r, tRight, tStep, yTop, yStep)
	}
	return img
}

func plotPanel(img *image.RGBA, area image.Rectangle, r *Result, tRight, tStep, yTop, yStep float64) {
	x := func(t time.Duration) int {
		return area.Min.X + int(t.Seconds()/tRight*float64(area.Dx()))
	}
	y := func(mib float64) int {
		return area.Max.Y - int(mib/yTop*float64(area.Dy()))
	}
	// Title, grid and axes.
	title := r.System
	if r.Leader != "" {
		title += fmt.Sprintf(" (%s leads)", r.Leader)
	}
	if f, ok := r.Figure(FigPeakRSS); ok {
		title += ", peak RSS " + format(f)
	}
	drawText(img, area.Min.X, area.Min.Y-marginTop+6, title, black)
	for v := 0.0; v <= yTop+yStep/2; v += yStep {
		yy := y(v)
		hline(img, area.Min.X, area.Max.X, yy, gridGray)
		label := fmt.Sprintf("%g MiB", v)
		drawText(img, area.Min.X-10-textWidth(label), yy-7, label, black)
	}
	for v := 0.0; v <= tRight+tStep/2; v += tStep {
		xx := x(time.Duration(v * float64(time.Second)))
		vline(img, xx, area.Min.Y, area.Max.Y, gridGray)
		label := fmt.Sprintf("%gs", v)
		drawText(img, xx-textWidth(label)/2, area.Max.Y+8, label, black)
	}
	axis := "time since the workload started on " + r.System
	drawText(img, area.Min.X+(area.Dx()-textWidth(axis))/2, area.Max.Y+32, axis, black)
	hline(img, area.Min.X, area.Max.X, area.Max.Y, black)
	vline(img, area.Min.X, area.Min.Y, area.Max.Y, black)

	// Phases: a dashed vertical and the name at the top, or on a line
	// below inside the plot where it would overlap another name.
	labelRows := []int{area.Min.Y - 20, area.Min.Y + 4, area.Min.Y + 24, area.Min.Y + 44}
	rowEnd := make([]int, len(labelRows))
	for i := range rowEnd {
		rowEnd[i] = math.MinInt
	}
	for _, p := range r.Phases {
		xx := x(p.At)
		for yy := area.Min.Y; yy < area.Max.Y; yy += 8 {
			vline(img, xx, yy, min(yy+4, area.Max.Y), phaseGray)
		}
		for i, ly := range labelRows {
			if xx > rowEnd[i] || i == len(labelRows)-1 {
				drawText(img, xx+3, ly, p.Name, phaseGray)
				rowEnd[i] = xx + 3 + textWidth(p.Name) + 6
				break
			}
		}
	}

	// One colour per member, one line per process of it (a restart starts
	// a new line): RSS thick, heap thin.
	members := memberNames(r)
	for i, name := range members {
		c := memberColors[i%len(memberColors)]
		light := color.RGBA{c.R/2 + 127, c.G/2 + 127, c.B/2 + 127, 255}
		heap := map[int][]point{}
		for _, h := range r.Heap {
			if h.Member == name {
				heap[h.PID] = append(heap[h.PID], point{h.At, float64(h.Live) / (1 << 20)})
			}
		}
		for _, pid := range sortedKeys(heap) {
			polyline(img, heap[pid], x, y, light, 1)
		}
		rss := map[int][]point{}
		for _, s := range r.Samples {
			if s.Member == name {
				rss[s.PID] = append(rss[s.PID], point{s.At, float64(s.RSS) / (1 << 20)})
			}
		}
		for _, pid := range sortedKeys(rss) {
			polyline(img, rss[pid], x, y, c, 3)
		}
		// Legend, top right, one row per member.
		label := name
		if name == r.Leader {
			label += " (leader)"
		}
		lx := area.Max.X - 190
		ly := area.Min.Y + 8 + i*20
		fillRect(img, image.Rect(lx, ly+4, lx+24, ly+8), c)
		drawText(img, lx+30, ly, label, black)
	}
}

// memberNames lists the members of r in name order.
func memberNames(r *Result) []string {
	seen := map[string]bool{}
	for _, s := range r.Samples {
		seen[s.Member] = true
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func sortedKeys(m map[int][]point) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// polyline joins the points in time order.
func polyline(img *image.RGBA, ps []point, x func(time.Duration) int, y func(float64) int, c color.RGBA, width int) {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].at < ps[j].at })
	for i, p := range ps {
		if i == 0 {
			fillRect(img, image.Rect(x(p.at)-width/2, y(p.v)-width/2, x(p.at)+width/2+1, y(p.v)+width/2+1), c)
			continue
		}
		line(img, x(ps[i-1].at), y(ps[i-1].v), x(p.at), y(p.v), c, width)
	}
}

// niceStep returns 1, 2 or 5 times a power of ten, at least v.
func niceStep(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= v {
			return m * p
		}
	}
	return 10 * p
}

func hline(img *image.RGBA, x0, x1, y int, c color.RGBA) {
	for x := x0; x <= x1; x++ {
		img.SetRGBA(x, y, c)
	}
}

func vline(img *image.RGBA, x, y0, y1 int, c color.RGBA) {
	for y := y0; y <= y1; y++ {
		img.SetRGBA(x, y, c)
	}
}

func fillRect(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	draw.Draw(img, r.Intersect(img.Bounds()), &image.Uniform{c}, image.Point{}, draw.Src)
}

// line draws a line of the given width (Bresenham, a square brush).
func line(img *image.RGBA, x0, y0, x1, y1 int, c color.RGBA, width int) {
	dx, dy := abs(x1-x0), -abs(y1-y0)
	sx, sy := sign(x1-x0), sign(y1-y0)
	e := dx + dy
	for {
		fillRect(img, image.Rect(x0-width/2, y0-width/2, x0-width/2+width, y0-width/2+width), c)
		if x0 == x1 && y0 == y1 {
			return
		}
		e2 := 2 * e
		if e2 >= dy {
			e += dy
			x0 += sx
		}
		if e2 <= dx {
			e += dx
			y0 += sy
		}
	}
}

func abs(v int) int { return max(v, -v) }

func sign(v int) int {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// glyphAdvance is the width of one character, spacing included.
const glyphAdvance = 6 * textScale

func textWidth(s string) int { return len([]rune(s)) * glyphAdvance }

// drawText draws s with its top left corner at (x, y), in font5x7.
func drawText(img *image.RGBA, x, y int, s string, c color.RGBA) {
	for _, r := range s {
		g, ok := font5x7[r]
		if !ok && r != ' ' {
			g = [7]uint8{0x1f, 0x11, 0x11, 0x11, 0x11, 0x11, 0x1f}
		}
		top := y
		if strings.ContainsRune(descenders, r) {
			top += 2 * textScale
		}
		for row, bits := range g {
			for col := range 5 {
				if bits&(1<<(4-col)) != 0 {
					fillRect(img, image.Rect(x+col*textScale, top+row*textScale, x+(col+1)*textScale, top+(row+1)*textScale), c)
				}
			}
		}
		x += glyphAdvance
	}
}
