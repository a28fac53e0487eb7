package statuspage

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// countingGatherer counts how often the page reads the registry.
type countingGatherer struct {
	prometheus.Gatherer
	n int
}

func (g *countingGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.n++
	return g.Gatherer.Gather()
}

// Reports asked for within an interval share one sample; the ring keeps
// only the last Samples samples.
func TestSamplesAreTakenOnDemandAndBounded(t *testing.T) {
	g := &countingGatherer{Gatherer: prometheus.NewRegistry()}
	p := New(Sources{Gatherer: g}, Options{Interval: time.Hour, Samples: 3})
	for range 5 {
		if _, err := p.report(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if g.n != 1 {
		t.Fatalf("%d samples within one interval, want 1", g.n)
	}
	p.opts.Interval = time.Nanosecond
	var rep Report
	for range 5 {
		b, err := p.report(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
	}
	if g.n != 6 || len(rep.Samples.Time) != 3 || len(p.ring.buf) != 3 {
		t.Fatalf("%d samples taken, %d reported, ring of %d; want 6, 3, 3", g.n, len(rep.Samples.Time), len(p.ring.buf))
	}
	for i := 1; i < 3; i++ {
		if rep.Samples.Time[i] < rep.Samples.Time[i-1] {
			t.Fatalf("samples out of order: %v", rep.Samples.Time)
		}
	}
}

// The quantile interpolates within the bucket it falls in, as
// histogram_quantile does.
func TestQuantile(t *testing.T) {
	h := histogram{bounds: []float64{1, 2, 4, math.Inf(1)}, counts: []float64{50, 90, 100, 100}, count: 100}
	for q, want := range map[float64]float64{0.5: 1, 0.7: 1.5, 0.99: 3.8} {
		if got := h.quantile(q); math.Abs(got-want) > 1e-9 {
			t.Errorf("q%v = %v, want %v", q, got, want)
		}
	}
	prev := histogram{bounds: h.bounds, counts: []float64{50, 50, 50, 50}, count: 50}
	if got := h.minus(prev).quantile(0.5); got != 1.625 { // 40 in (1,2], 10 in (2,4]: rank 25 of 40 in (1,2]
		t.Errorf("median of the difference %v, want 1.625", got)
	}
}
