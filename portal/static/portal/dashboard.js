/*
 * Charts of the admin index's dashboard (templates/admin/index.html).
 *
 * Fetches the dashboard JSON (the URL is the section's data-url: admin/dashboard.json, shapes in
 * calls.dashboard.dashboard_data) and draws it with Chart.js. The same numbers are in the page's
 * tables, so without JavaScript only the charts are missing. Labels come from the canvases'
 * data-label-* attributes, translated by the template.
 *
 * Chart.js is vendored: vendor/chart.umd.min.js is package/dist/chart.umd.min.js of
 * `npm pack chart.js@4.6.1` (tarball sha1 40a924bc0b92544ed66fa3f4873981152fc62c52, the registry's
 * dist.shasum), MIT (vendor/chart.js.LICENSE.md), with its last line
 * `//# sourceMappingURL=chart.umd.min.js.map` removed: the map is not shipped, and
 * ManifestStaticFilesStorage (production collectstatic) fails on a reference to a missing file.
 */
"use strict";

(function () {
    function canvas(id) {
        return document.getElementById(id);
    }

    function shortDay(iso) {
        return iso.slice(5); // "2026-09-01" → "09-01"
    }

    function draw(canvasEl, config) {
        if (!canvasEl) {
            return;
        }
        config.options = Object.assign({responsive: true, maintainAspectRatio: false, animation: false}, config.options || {});
        new window.Chart(canvasEl, config);
    }

    function classLabel(row, allSchools) {
        var name = row.class_name || "—";
        return allSchools ? row.school + " · " + name : name;
    }

    function render(data, allSchools) {
        var el = canvas("dashboard-classes-chart");
        if (el) {
            draw(el, {
                type: "bar",
                data: {
                    labels: data.classes.map(function (row) { return classLabel(row, allSchools); }),
                    datasets: [
                        {label: el.dataset.labelContact, data: data.classes.map(function (row) { return row.without_contact; })},
                        {label: el.dataset.labelAdmin, data: data.classes.map(function (row) { return row.without_admin; })}
                    ]
                },
                options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
            });
        }

        el = canvas("dashboard-bindings-chart");
        if (el) {
            draw(el, {
                type: "bar",
                data: {
                    labels: data.bindings.map(function (row) { return shortDay(row.day); }),
                    datasets: [{label: el.dataset.labelBindings, data: data.bindings.map(function (row) { return row.bindings; })}]
                },
                options: {scales: {y: {beginAtZero: true, ticks: {precision: 0}}}}
            });
        }

        el = canvas("dashboard-calls-chart");
        if (el) {
            draw(el, {
                type: "bar",
                data: {
                    labels: data.calls.map(function (row) { return shortDay(row.day); }),
                    datasets: [
                        {label: el.dataset.labelCalls, data: data.calls.map(function (row) { return row.calls; }), yAxisID: "y"},
                        {
                            type: "line",
                            label: el.dataset.labelMinutes,
                            data: data.calls.map(function (row) { return row.connected_minutes; }),
                            yAxisID: "minutes"
                        }
                    ]
                },
                options: {
                    scales: {
                        y: {beginAtZero: true, position: "left", ticks: {precision: 0}},
                        minutes: {type: "linear", beginAtZero: true, position: "right", grid: {drawOnChartArea: false}}
                    }
                }
            });
        }

        el = canvas("dashboard-share-links-chart");
        if (el) {
            var links = data.share_links;
            draw(el, {
                type: "doughnut",
                data: {
                    labels: [el.dataset.labelActive, el.dataset.labelExpired, el.dataset.labelRevoked],
                    datasets: [{data: [links.active, links.expired, links.revoked]}]
                }
            });
        }

        el = canvas("dashboard-devices-chart");
        if (el) {
            draw(el, {
                type: "bar",
                data: {
                    labels: data.top_devices.map(function (row) { return allSchools ? row.school + " · " + row.label : row.label; }),
                    datasets: [
                        {label: el.dataset.labelCalls, data: data.top_devices.map(function (row) { return row.calls; }), xAxisID: "x"},
                        {
                            label: el.dataset.labelMinutes,
                            data: data.top_devices.map(function (row) { return row.connected_minutes; }),
                            xAxisID: "minutes"
                        }
                    ]
                },
                options: {
                    indexAxis: "y",
                    scales: {
                        y: {ticks: {autoSkip: false}},
                        x: {beginAtZero: true, position: "bottom", ticks: {precision: 0}},
                        minutes: {type: "linear", beginAtZero: true, position: "top", grid: {drawOnChartArea: false}}
                    }
                }
            });
        }
    }

    function start() {
        var root = document.getElementById("portal-dashboard");
        if (!root || typeof window.Chart === "undefined" || typeof window.fetch === "undefined") {
            return;
        }
        window.fetch(root.dataset.url, {credentials: "same-origin", headers: {Accept: "application/json"}})
            .then(function (response) {
                if (!response.ok) {
                    throw new Error("dashboard data: HTTP " + response.status);
                }
                return response.json();
            })
            .then(function (data) {
                render(data, root.dataset.allSchools === "1");
            })
            .catch(function (error) {
                root.classList.add("dashboard-charts-failed");
                window.console.error(error);
            });
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", start);
    } else {
        start();
    }
})();
