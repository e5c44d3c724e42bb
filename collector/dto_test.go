package collector

import dtopb "github.com/prometheus/client_model/go"

type dto struct{ dtopb.MetricFamily }
