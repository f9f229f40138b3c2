/*
 * outage_notify's map component: plain JavaScript on Leaflet (static/vendor/leaflet, built by
 * scripts/build-assets.sh; no CDN).
 *
 * Every element with a `data-map` attribute becomes a map, configured by its data- attributes:
 *   data-features-url   GeoJSON URLs (space-separated) of incidents: features with
 *                       properties.kind (unplanned, planned, warning) and an id
 *   data-outlines-url   GeoJSON of district / municipality outlines and streets, drawn as a
 *                       plain background when no tile server is given
 *   data-tile-url       a tile URL template ({z}/{x}/{y}); empty: the plain background
 *   data-tile-attribution  what the tile server's licence asks to be shown
 *   data-details-prefix the id prefix of the page's element that describes a feature in words
 *                       (id = prefix + feature id): its title and [data-popup] facts fill the
 *                       feature's popup, and it gets a "Show on map" button
 * The page must carry the same information in text: the map is an enhancement of it.
 * Other pages reach the maps through window.OutageMap (create(element) and the `maps` made).
 */
(function () {
  "use strict";

  var STYLES = {
    unplanned: { color: "#b42318", weight: 2, fillColor: "#f04438", fillOpacity: 0.35 },
    planned: { color: "#1d4ed8", weight: 2, dashArray: "6 4", fillColor: "#3b82f6", fillOpacity: 0.2 },
    warning: { color: "#b45309", weight: 2, dashArray: "2 6", fillColor: "#f59e0b", fillOpacity: 0.12 }
  };
  // Drawn bottom to top: an outage is never hidden under a warning.
  var ORDER = ["warning", "planned", "unplanned"];
  var OUTLINE_STYLES = {
    municipality: { color: "#4b5563", weight: 2, fill: false, interactive: false },
    district: { color: "#9aa3ad", weight: 1, fillColor: "#ffffff", fillOpacity: 0.55, interactive: false },
    street: { color: "#c3c9d0", weight: 2, interactive: false }
  };
  var DISTRICT_LABELS_FROM_ZOOM = 12;

  function problem(element, text) {
    var note = element.querySelector(".map-problem") || document.createElement("p");
    note.className = "map-problem";
    note.setAttribute("role", "alert");
    note.textContent = text;
    if (!note.parentNode) {
      element.appendChild(note);
    }
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/geo+json, application/json" } }).then(
      function (response) {
        if (!response.ok) {
          throw new Error(url + " answered " + response.status);
        }
        return response.json();
      }
    );
  }

  function details(prefix, id) {
    return prefix && id != null ? document.getElementById(prefix + id) : null;
  }

  // The popup: the page's own words for the feature (title and its [data-popup] facts).
  function popupFor(card) {
    var box = document.createElement("div");
    box.className = "map-popup";
    var title = card.querySelector("h3, h2");
    if (title) {
      var strong = document.createElement("strong");
      strong.textContent = title.textContent.trim();
      box.appendChild(strong);
    }
    var facts = card.querySelectorAll("[data-popup]");
    if (facts.length) {
      var list = document.createElement("dl");
      facts.forEach(function (fact) {
        list.appendChild(fact.cloneNode(true));
      });
      box.appendChild(list);
    }
    var link = document.createElement("a");
    link.href = "#" + card.id;
    link.textContent = "Details in the list";
    link.addEventListener("click", function () {
      card.focus();
    });
    box.appendChild(link);
    return box;
  }

  function showButton(card, map, layer) {
    if (card.querySelector(".show-on-map")) {
      return;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "show-on-map";
    button.textContent = "Show on map";
    button.addEventListener("click", function () {
      map.fitBounds(layer.getBounds(), { maxZoom: 15, padding: [20, 20] });
      layer.openPopup();
      map.getContainer().scrollIntoView({ block: "center" });
      map.getContainer().focus({ preventScroll: true });
    });
    card.appendChild(button);
  }

  function outlinesLayer(map, data) {
    var labels = [];
    var layer = L.geoJSON(data, {
      style: function (feature) {
        return OUTLINE_STYLES[(feature.properties || {}).kind] || OUTLINE_STYLES.district;
      },
      onEachFeature: function (feature, item) {
        var props = feature.properties || {};
        if (props.kind === "district" && props.name) {
          item.bindTooltip(props.name, {
            permanent: true,
            direction: "center",
            className: "district-label"
          });
          labels.push(item);
        }
      }
    });
    // Labels from a zoom where they fit; one that would overlap a label already shown (the
    // file's order decides) stays hidden until the reader zooms in.
    function showLabels() {
      var visible = map.getZoom() >= DISTRICT_LABELS_FROM_ZOOM;
      var placed = [];
      labels.forEach(function (item) {
        var tooltip = item.getTooltip();
        var element = tooltip && tooltip.getElement();
        if (!element) {
          return;
        }
        var box = element.getBoundingClientRect();
        var clash = placed.some(function (other) {
          return !(box.right < other.left || box.left > other.right ||
            box.bottom < other.top || box.top > other.bottom);
        });
        var shown = visible && !clash;
        tooltip.setOpacity(shown ? 1 : 0);
        if (shown) {
          placed.push(box);
        }
      });
    }
    map.on("zoomend", showLabels);
    layer.on("add", showLabels);
    return layer;
  }

  // Hundreds of areas draw many times faster on one canvas than as as many SVG elements.
  var CANVAS_FROM = 200;

  function featureLayers(map, data, prefix) {
    var layers = {};
    var many = (data.features || []).length >= CANVAS_FROM;
    var renderer = many ? L.canvas({ padding: 0.5 }) : undefined;
    ORDER.forEach(function (kind) {
      layers[kind] = L.geoJSON(data, {
        renderer: renderer,
        filter: function (feature) {
          return (feature.properties || {}).kind === kind;
        },
        style: function () {
          return STYLES[kind];
        },
        onEachFeature: function (feature, layer) {
          var card = details(prefix, feature.id);
          if (card) {
            layer.bindPopup(function () {
              return popupFor(card);
            });
            showButton(card, map, layer);
          }
        }
      }).addTo(map);
    });
    return layers;
  }

  function create(element) {
    if (typeof window.L === "undefined") {
      problem(element, "The map's script did not load, so there is no map. Everything it would show is in the lists below.");
      return null;
    }
    var data = element.dataset;
    var map = L.map(element, { keyboard: true, zoomSnap: 0.5, minZoom: 3 });
    map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
    element.classList.add(data.tileUrl ? "tiled" : "plain");
    if (data.tileUrl) {
      L.tileLayer(data.tileUrl, { attribution: data.tileAttribution || "", maxZoom: 19 }).addTo(map);
    }
    map.setView([0, 0], 3);
    var made = { map: map, features: {}, outlines: null, bounds: null };
    var outlines = data.tileUrl || !data.outlinesUrl
      ? Promise.resolve(null)
      : getJSON(data.outlinesUrl).then(function (geojson) {
          made.outlines = outlinesLayer(map, geojson).addTo(map);
          made.outlines.bringToBack();
          return made.outlines;
        });
    var urls = (data.featuresUrl || "").split(/\s+/).filter(Boolean);
    var features = Promise.all(urls.map(getJSON)).then(function (collections) {
      var bounds = L.latLngBounds([]);
      collections.forEach(function (geojson) {
        var layers = featureLayers(map, geojson, data.detailsPrefix);
        Object.keys(layers).forEach(function (kind) {
          made.features[kind] = layers[kind];
          var extent = layers[kind].getBounds();
          if (extent.isValid()) {
            bounds.extend(extent);
          }
        });
      });
      return bounds;
    });
    made.ready = Promise.all([outlines, features])
      .then(function (results) {
        var bounds = results[1];
        if (!bounds.isValid() && results[0]) {
          bounds = results[0].getBounds();
        }
        if (bounds.isValid()) {
          map.fitBounds(bounds, { maxZoom: 15, padding: [16, 16], animate: false });
        }
        map.fire("zoomend"); // labels follow the zoom the view was fitted to
        made.bounds = bounds;
        element.setAttribute("data-map-ready", "true");
        return made;
      })
      .catch(function (error) {
        problem(element, "The map's data could not be loaded (" + error.message + "). The lists below are as of the page's loading.");
        element.setAttribute("data-map-ready", "failed");
        return made;
      });
    return made;
  }

  var maps = [];
  function start() {
    document.querySelectorAll("[data-map]").forEach(function (element) {
      var made = create(element);
      if (made) {
        maps.push(made);
      }
    });
  }

  window.OutageMap = { create: create, maps: maps, styles: STYLES };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
