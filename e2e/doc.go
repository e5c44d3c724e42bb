// Package e2e holds tests of the shipped alerting artifacts (alerts/): the
// Alertmanager routing tree, rule hygiene, and an end-to-end run of the
// exporter, a real Prometheus and a real Alertmanager (also two exporters
// behind one Alertmanager, ha_test.go); and the Dockerfile held to the
// package's defaults (packaging/).
package e2e
