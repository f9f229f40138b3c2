/*
 * The operator console (templates/pages/console.html) on top of map.js: overdue estimates
 * standing out on the map, the customers clustered by the server for the view
 * (/console/customers.geojson), drawing or editing the area with leaflet-geoman (the area goes
 * into the form's GeoJSON box, which is what is sent), and the preview fetched from
 * /console/preview into the page. Without this script the form still works by itself.
 */
(function () {
  "use strict";

  var OVERDUE = { color: "#7a0916", weight: 5, dashArray: null };
  var DRAWN = { color: "#111827", weight: 3, fillColor: "#6366f1", fillOpacity: 0.25 };

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) {
      return values[name] == null ? "" : String(values[name]);
    });
  }

  function number(n) {
    return Number(n).toLocaleString(document.documentElement.lang || undefined);
  }

  function highlightOverdue(made) {
    Object.keys(made.features).forEach(function (kind) {
      made.features[kind].eachLayer(function (layer) {
        if ((layer.feature.properties || {}).overdue) {
          layer.setStyle(OVERDUE);
          layer.bringToFront();
        }
      });
    });
  }

  // ---- customers, clustered by the server -------------------------------------------------

  function clusterIcon(count) {
    var size = Math.round(Math.min(56, 22 + 6 * Math.log10(count + 1) * 2));
    return L.divIcon({
      className: "cluster-icon",
      html: "<span>" + number(count) + "</span>",
      iconSize: [size, size]
    });
  }

  function customerLayer(map, element) {
    var layer = L.layerGroup().addTo(map);
    var note = document.getElementById("customers-shown");
    var words = element.dataset.wordsCustomers || "";
    var asked = 0;
    function clamp(value, limit) {
      return Math.max(-limit, Math.min(limit, value));
    }
    function load() {
      var b = map.getBounds();
      var query = new URLSearchParams({
        south: clamp(b.getSouth(), 89.9).toFixed(6),
        west: clamp(b.getWest(), 179.9).toFixed(6),
        north: clamp(b.getNorth(), 89.9).toFixed(6),
        east: clamp(b.getEast(), 179.9).toFixed(6),
        zoom: String(Math.floor(map.getZoom()))
      });
      var ticket = ++asked;
      fetch(element.dataset.customersUrl + "?" + query, {
        headers: { Accept: "application/json" },
        credentials: "same-origin"
      })
        .then(function (response) {
          return response.ok ? response.json() : null;
        })
        .then(function (data) {
          if (ticket !== asked) {
            return; // a later view's answer is coming
          }
          layer.clearLayers();
          if (!data) {
            if (note) {
              note.textContent = "";
            }
            return;
          }
          var total = 0;
          data.features.forEach(function (feature) {
            var c = feature.geometry.coordinates;
            var count = feature.properties.count;
            total += count;
            L.marker([c[1], c[0]], {
              icon: clusterIcon(count),
              interactive: false,
              keyboard: false
            }).addTo(layer);
          });
          if (note && words) {
            note.textContent = fill(words, { n: number(total) });
          }
          element.setAttribute("data-customers-ready", "true");
        });
    }
    map.on("moveend", load);
    return { layer: layer, load: load };
  }

  // ---- customers' reports and the clusters proposed from them --------------------------

  var REPORT = { className: "report-marker", radius: 5, color: "#5b21b6", weight: 2, fillColor: "#ede9fe", fillOpacity: 1, interactive: false };
  var PROPOSAL = { className: "proposal-area", color: "#5b21b6", weight: 2, dashArray: "5 5", fillColor: "#8b5cf6", fillOpacity: 0.15, interactive: false };

  function reportLayer(map, element) {
    if (!element.dataset.reportsUrl) {
      return Promise.resolve(null);
    }
    return fetch(element.dataset.reportsUrl, {
      headers: { Accept: "application/json" },
      credentials: "same-origin"
    })
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) {
          return null;
        }
        // Reports are few and small: drawn above the customers' cluster circles (the marker
        // pane, z-index 600), which would otherwise hide the very places people call about.
        if (!map.getPane("reports")) {
          map.createPane("reports").style.zIndex = "620";
        }
        return L.geoJSON(data, {
          style: function (feature) {
            // Points too get the style (before they are drawn): each keeps its own.
            return feature.geometry.type === "Point" ? REPORT : PROPOSAL;
          },
          pointToLayer: function (feature, latlng) {
            return L.circleMarker(latlng, L.extend({ pane: "reports" }, REPORT));
          }
        }).addTo(map);
      });
  }

  // ---- the area: drawn, edited, or typed ----------------------------------------------------

  function areaTools(map, box) {
    var tools = document.getElementById("draw-tools");
    var drawButton = document.getElementById("draw-area");
    var editButton = document.getElementById("edit-area");
    var clearButton = document.getElementById("clear-area");
    var state = { layer: null };
    if (!map.pm || !tools) {
      return state; // leaflet-geoman did not load: the box alone still works
    }
    tools.hidden = false;

    function write() {
      if (!state.layer) {
        box.value = "";
        return;
      }
      var geometry = state.layer.toGeoJSON().geometry;
      box.value = JSON.stringify(geometry);
    }

    function adopt(layer) {
      if (state.layer && state.layer !== layer) {
        map.removeLayer(state.layer);
      }
      state.layer = layer;
      layer.setStyle(DRAWN);
      layer.on("pm:edit", write);
      write();
    }

    function fromBox() {
      var text = box.value.trim();
      if (!text) {
        return null;
      }
      try {
        var shape = L.geoJSON(JSON.parse(text), { style: DRAWN });
        var layers = shape.getLayers();
        if (!layers.length) {
          return null;
        }
        var layer = layers[0];
        layer.addTo(map);
        if (state.layer) {
          map.removeLayer(state.layer);
        }
        state.layer = layer;
        layer.on("pm:edit", write);
        return layer;
      } catch (error) {
        return null; // not GeoJSON (yet): the server says what is wrong on Preview
      }
    }

    map.on("pm:create", function (event) {
      drawButton.setAttribute("aria-pressed", "false");
      adopt(event.layer);
    });
    drawButton.setAttribute("aria-pressed", "false");
    editButton.setAttribute("aria-pressed", "false");
    drawButton.addEventListener("click", function () {
      if (map.pm.globalDrawModeEnabled()) {
        map.pm.disableDraw();
        drawButton.setAttribute("aria-pressed", "false");
        return;
      }
      map.pm.enableDraw("Polygon", { snappable: false, templineStyle: DRAWN, hintlineStyle: DRAWN });
      drawButton.setAttribute("aria-pressed", "true");
      map.getContainer().scrollIntoView({ block: "center" });
    });
    editButton.addEventListener("click", function () {
      if (!state.layer) {
        return;
      }
      var editing = state.layer.pm.enabled();
      if (editing) {
        state.layer.pm.disable();
      } else {
        state.layer.pm.enable({ allowSelfIntersection: false });
      }
      editButton.setAttribute("aria-pressed", editing ? "false" : "true");
    });
    clearButton.addEventListener("click", function () {
      if (state.layer) {
        map.removeLayer(state.layer);
        state.layer = null;
      }
      editButton.setAttribute("aria-pressed", "false");
      write();
    });
    box.addEventListener("change", fromBox);
    state.fromBox = fromBox;
    return state;
  }

  // ---- the preview ------------------------------------------------------------------------

  function previewer(form) {
    var section = document.getElementById("preview");
    var result = document.getElementById("preview-result");
    var button = document.getElementById("preview-button");
    if (!section || !result || !button) {
      return;
    }
    var words = section.dataset;
    var names = {};
    document.querySelectorAll(".languages a[hreflang]").forEach(function (link) {
      names[link.getAttribute("hreflang")] = link.textContent.trim();
    });

    function paragraph(className, text) {
      var p = document.createElement("p");
      p.className = className;
      p.textContent = text;
      return p;
    }

    function show(data) {
      result.replaceChildren();
      var count = paragraph("lead", fill(words.wordsAffected, { n: number(data.affected) }));
      count.id = "preview-count";
      result.appendChild(count);
      data.sms.forEach(function (sms) {
        var box = document.createElement("div");
        box.className = "sms";
        box.setAttribute("data-language", sms.language);
        var heading = document.createElement("h3");
        heading.textContent = names[sms.language] || sms.language;
        box.appendChild(heading);
        var text = paragraph("sms-text", sms.text);
        text.lang = sms.language;
        box.appendChild(text);
        box.appendChild(
          paragraph("muted", fill(words.wordsSegments, { n: sms.segments, encoding: sms.encoding }))
        );
        result.appendChild(box);
      });
    }

    function refuse(reason) {
      result.replaceChildren();
      var p = paragraph("error", fill(words.wordsFailed, { reason: reason }));
      p.setAttribute("role", "alert");
      result.appendChild(p);
    }

    button.addEventListener("click", function (event) {
      event.preventDefault();
      var body = new FormData(form);
      fetch("/console/preview", {
        method: "POST",
        body: body,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": body.get("csrf_token") }
      })
        .then(function (response) {
          return response.json().then(function (data) {
            return { ok: response.ok, data: data };
          });
        })
        .then(function (answer) {
          if (answer.ok) {
            show(answer.data);
          } else {
            refuse((answer.data.error || {}).message || "?");
          }
          section.setAttribute("data-previewed", "true");
          section.scrollIntoView({ block: "start" });
        })
        .catch(function (error) {
          refuse(error.message);
        });
    });
  }

  function start() {
    var element = document.querySelector("[data-console]");
    var form = document.getElementById("incident-form");
    if (form) {
      previewer(form);
    }
    if (!element || !window.OutageMap) {
      return;
    }
    var made = window.OutageMap.maps.filter(function (m) {
      return m.map.getContainer() === element;
    })[0];
    if (!made) {
      return;
    }
    var map = made.map;
    var customers = customerLayer(map, element);
    var area = areaTools(map, document.getElementById("area"));
    var reports = reportLayer(map, element);
    Promise.all([made.ready, reports]).then(function () {
      highlightOverdue(made);
      var bounds = L.latLngBounds([]);
      if (element.dataset.extent) {
        bounds.extend(JSON.parse(element.dataset.extent));
      }
      var drawn = area.fromBox ? area.fromBox() : null;
      if (drawn) {
        bounds = drawn.getBounds();
      } else if (made.bounds && made.bounds.isValid()) {
        bounds.extend(made.bounds);
      }
      if (bounds.isValid()) {
        map.fitBounds(bounds, { maxZoom: 15, padding: [16, 16], animate: false });
      }
      customers.load();
      element.setAttribute("data-console-ready", "true");
    });
    window.OutageConsole = { map: map, made: made, area: area, customers: customers };
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
