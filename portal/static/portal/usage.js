/*
 * The call usage page's chart (templates/admin/calls/callusage/change_list.html): calls per day as
 * bars, connected minutes and estimated traffic (MB) as lines on a second axis. The series is the
 * page's JSON (#usage-series: calls.selectors.reports.usage_series, oldest day first); the labels
 * are the canvas's data-label-* attributes, translated by the template. Chart.js is the vendored
 * one of the dashboard (see dashboard.js for its provenance). The tables below show the same numbers.
 */
"use strict";

(function () {
    function start() {
        var canvas = document.getElementById("usage-chart");
        var source = document.getElementById("usage-series");
        if (!canvas || !source || typeof window.Chart === "undefined") {
            return;
        }
        var series = JSON.parse(source.textContent);
        var pick = function (key) { return series.map(function (day) { return day[key]; }); };
        new window.Chart(canvas, {
            type: "bar",
            data: {
                labels: series.map(function (day) { return day.day.slice(5); }), // "2026-09-01" → "09-01"
                datasets: [
                    {label: canvas.dataset.labelCalls, data: pick("calls"), yAxisID: "y"},
                    {type: "line", label: canvas.dataset.labelMinutes, data: pick("connected_minutes"), yAxisID: "amount"},
                    {type: "line", label: canvas.dataset.labelTraffic, data: pick("traffic_mb"), yAxisID: "amount"}
                ]
            },
            options: {
                responsive: true,
                maintainAspectRatio: false,
                animation: false,
                scales: {
                    y: {beginAtZero: true, position: "left", ticks: {precision: 0}},
                    amount: {type: "linear", beginAtZero: true, position: "right", grid: {drawOnChartArea: false}}
                }
            }
        });
        canvas.dataset.drawn = "1"; // the browser test waits for it
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
