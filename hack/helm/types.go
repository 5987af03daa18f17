package main

import chart "helm.sh/helm/v4/pkg/chart/v2"

type chartType = *chart.Chart
