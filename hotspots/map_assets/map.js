// Hot-street map page: layers drawn on canvas, re-ranked in the page by crime group, harm
// and period, with a "what changed" view. Fed by `cfg` (see hotspots/output/map_layers.py); `map` is the
// Leaflet map. Every text in cfg is HTML-escaped in Python already.
if (cfg.bounds) map.fitBounds(cfg.bounds);
var C = cfg.counts, M = C.months.length, W = C.weeks, T = C.types.length;
var TOO_FEW = cfg.tooFew, MAIN_ZOOM = cfg.mainZoom;
var overlays = {}, searchIndex = [], items = [], areaItems = [];
var linkBlock = document.getElementById('hotspots-links');
var links = linkBlock ? JSON.parse(linkBlock.textContent || '{}') : {};
var st = {group: '', rankBy: 'density', period: 'all', view: 'hot', colour: 'rank'};
var RANK_BY = {density: 'crimes per 100 m', count: 'number of crimes',
  harm: 'harm (crime harm index days)'};
var PERIODS = [['all', 'whole period', 'm', M], ['12m', 'last 12 months', 'm', 12],
  ['3m', 'last 3 months', 'm', 3], ['1m', 'last month', 'm', 1]];
if (W) PERIODS.push(['12w', 'last 12 weeks', 'w', 12], ['4w', 'last 4 weeks', 'w', 4]);
PERIODS = PERIODS.filter(function (p) { return p[0] === 'all' || p[3] < (p[2] === 'w' ? W : M); });
var CHANGE = {new: ['#7b3294', 'new: under ' + TOO_FEW + ' before, ' + TOO_FEW + ' or more now'],
  rising: ['#d7191c', 'rising'], falling: ['#2c7bb6', 'falling'], same: ['#737373', 'no change'],
  few: ['#bdbdbd', 'too few to compare (under ' + TOO_FEW + ' in both periods)']};

function esc(s) {
  return String(s).replace(/[&<>"']/g, function (c) {
    return {'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]; });
}
function text(h) {  // escaped HTML -> plain text
  var d = document.createElement('textarea'); d.innerHTML = h; return d.value;
}
function dec(s) {  // Google encoded polyline -> [[lat, lng], ...]
  var pts = [], i = 0, lat = 0, lng = 0;
  while (i < s.length) {
    var b, sh = 0, r = 0;
    do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
    lat += (r & 1) ? ~(r >> 1) : (r >> 1);
    sh = 0; r = 0;
    do { b = s.charCodeAt(i++) - 63; r |= (b & 31) << sh; sh += 5; } while (b >= 32);
    lng += (r & 1) ? ~(r >> 1) : (r >> 1);
    pts.push([lat / 1e5, lng / 1e5]);
  }
  return pts;
}
function decPolys(g) { return g.map(function (p) { return p.map(dec); }); }
map.createPane('hsBase').style.zIndex = 350;
map.createPane('hsTop').style.zIndex = 450;
map.createPane('hsCorridor').style.zIndex = 420;
var rBase = L.canvas({pane: 'hsBase', padding: 0.2});
var rArea = L.canvas({padding: 0.2, tolerance: 2});
var rTop = L.canvas({pane: 'hsTop', padding: 0.2, tolerance: 6});
var rCorridor = L.canvas({pane: 'hsCorridor', padding: 0.2, tolerance: 4});

// ---- selection and counting ---------------------------------------------------------------
function selection() {
  var p = PERIODS.filter(function (q) { return q[0] === st.period; })[0] || PERIODS[0];
  var mask = [];
  for (var t = 0; t < T; t++) {
    mask.push(!st.group || (st.group[0] === 'g' ? C.typeGroup[t] === +st.group.slice(2)
      : t === +st.group.slice(2)));
  }
  var U = p[2] === 'w' ? W : M;
  return {key: p[0], label: p[1], unit: p[2], len: p[3], U: U, mask: mask, harm: st.rankBy === 'harm',
    rankBy: st.rankBy,
    hasPrev: 2 * p[3] <= U, change: st.view === 'change' && p[0] !== 'all'};
}
function groupLabel() {
  if (!st.group) return 'all crime';
  return st.group[0] === 'g' ? C.groups[+st.group.slice(2)][1] : C.types[+st.group.slice(2)];
}
function tally(it, sel) {  // [count now, count before, harm now]
  var list = sel.unit === 'w' ? it.w : it.m, U = sel.U, cur = 0, prev = 0, harm = 0;
  if (!list) return [0, 0, 0];
  for (var k = 0; k < list.length; k += 2) {
    var t = (list[k] / U) | 0, u = list[k] - t * U;
    if (!sel.mask[t]) continue;
    if (u >= U - sel.len) { cur += list[k + 1]; harm += list[k + 1] * C.harm[t]; }
    else if (u >= U - 2 * sel.len) prev += list[k + 1];
  }
  return [cur, prev, harm];
}
function status(cur, prev) {
  if (cur < TOO_FEW && prev < TOO_FEW) return 'few';
  if (prev < TOO_FEW) return 'new';
  if (cur < TOO_FEW) return 'falling';
  return cur > prev ? 'rising' : (cur < prev ? 'falling' : 'same');
}
function pct(cur, prev) {
  if (cur < TOO_FEW || prev < TOO_FEW) return 'too few to compare';
  var p = Math.round(100 * (cur - prev) / prev);
  return (p > 0 ? '+' : '') + p + '%';
}

// ---- base network, areas, hexagons, clusters -----------------------------------------------
if (cfg.base) {
  var baseGroup = L.layerGroup();
  var full = L.polyline(cfg.base.full.map(dec), {renderer: rBase, color: '#a0a0a0', weight: 1,
    opacity: 0.8, interactive: false});
  var main = cfg.base.main ? L.polyline(cfg.base.main.map(dec), {renderer: rBase,
    color: '#a0a0a0', weight: 1.3, opacity: 0.8, interactive: false}) : null;
  var baseLevel = function () {
    var z = map.getZoom(), want = main && z < MAIN_ZOOM ? main : full;
    var other = want === main ? full : main;
    if (other && baseGroup.hasLayer(other)) baseGroup.removeLayer(other);
    if (!baseGroup.hasLayer(want)) baseGroup.addLayer(want);
  };
  baseLevel();
  map.on('zoomend', baseLevel);
  overlays['Streets (background)'] = baseGroup.addTo(map);
}
var areas = null;
if (cfg.areas) {
  areas = L.layerGroup();
  var A = cfg.areas;
  A.code.forEach(function (code, i) {
    var it = {code: code, name: A.name[i], focus: A.focus[i], pop: A.pop ? A.pop[i] : null,
      m: A.m[i], w: A.w ? A.w[i] : null, v0: A.v ? A.v[i] : null};
    it.layer = L.polygon(decPolys(A.g[i]), {renderer: rArea, color: it.focus ? '#000' : '#777',
      weight: it.focus ? 3 : 0.5, fillOpacity: cfg.focus ? (it.focus ? 0.04 : 0.25) : 0.45});
    it.layer.bindTooltip(function () { return areaTip(it); }, {sticky: true});
    it.layer.on('click', function (e) { openPopup(e.latlng, areaPopup(it)); });
    searchIndex.push({name: it.name, kind: 'area', layer: it.layer, item: it});
    areaItems.push(it);
    areas.addLayer(it.layer);
  });
  overlays['Areas (' + cfg.areaLabel + ')'] = areas.addTo(map);
}
function shapes(d, style) {
  var g = L.layerGroup();
  d.g.forEach(function (geom, i) {
    var l = L.polygon(decPolys(geom), style(i)).bindTooltip(d.tip[i]);
    g.addLayer(l);
  });
  return g;
}
var hexes = cfg.hexes ? shapes(cfg.hexes, function (i) {
  return {renderer: rArea, color: cfg.hexes.c[i], weight: 0.5, fillColor: cfg.hexes.c[i],
    fillOpacity: 0.5}; }) : null;
if (hexes) overlays['Hot spot hexagons'] = hexes;
var clusters = cfg.clusters ? shapes(cfg.clusters, function () {
  return {renderer: rArea, color: '#6a51a3', weight: 2, dashArray: '5 4', fillOpacity: 0.08}; })
  : null;
if (clusters) overlays['Crime clusters'] = clusters;

// ---- hot streets and locations ---------------------------------------------------------------
var streets = L.featureGroup(), labels = L.layerGroup();
function addPlaces(d, kind) {
  if (!d) return;
  d.name.forEach(function (name, i) {
    var it = {kind: kind, name: name, area: d.area[i], r0: d.r[i], ar: d.ar[i], popup: d.popup[i],
      len: d.len ? d.len[i] : null, pf: d.pf ? d.pf[i] : null,
      cs: d.cs ? d.cs[i] : null, m: d.m[i], w: d.w ? d.w[i] : null, rank: null,
      wn: d.wn ? d.wn[i] : null};
    if (kind === 'street') {
      it.layer = L.polyline(d.g[i].map(dec), {renderer: rTop, lineCap: 'round'});
    } else {
      var pts = dec(d.g[i][0]);
      it.layer = L.featureGroup(pts.map(function (p) {
        return L.circleMarker(p, {renderer: rTop, radius: 6, weight: 1, fillOpacity: 0.7}); }));
    }
    it.layer.hsItem = it;
    it.layer.bindTooltip(function () { return esc(tipText(it)); }, {sticky: true});
    it.layer.on('click', function (e) { openItem(it, e.latlng); });
    searchIndex.push({name: name, kind: 'street', layer: it.layer, item: it});
    items.push(it);
  });
}
addPlaces(cfg.streets, 'street');
addPlaces(cfg.locations, 'location');
if (items.length) {
  overlays['Hot streets'] = streets.addTo(map);
  overlays['Top 10 numbers'] = labels.addTo(map);
}
function tipText(it) {
  var sel = selection(), head = it.rank ? it.rank + '. ' : '';
  if (sel.change) return head + it.name + ': ' + it.cur + ' now, ' + it.prev + ' before';
  return head + it.name + ' (' + it.cur + ' crimes' + (sel.key === 'all' ? '' : ', ' + sel.label) + ')';
}
function centre(layer) {
  return layer.getCenter ? layer.getCenter() : layer.getBounds().getCenter();
}
var repeats = null;
if (cfg.repeats) {
  repeats = L.layerGroup();
  cfg.repeats.ll.forEach(function (p, i) {
    L.circleMarker(p, {renderer: rTop, radius: 3 + Math.sqrt(cfg.repeats.n[i]) / 2,
      color: '#54278f', weight: 1.5, fillColor: '#bcbddc', fillOpacity: 0.8})
      .bindTooltip(cfg.repeats.tip[i]).addTo(repeats);
  });
  overlays['Repeat locations'] = repeats;
}
var corridors = null;
if (cfg.corridors) {  // road stretches ranked per km: drawn wide and pale under the hot streets
  corridors = L.layerGroup();
  map.on('overlayadd', function (e) {  // built when first switched on (off by default)
    if (e.layer !== corridors || corridors.getLayers().length) return;
    cfg.corridors.g.forEach(function (geom, i) {
      L.polyline(geom.map(dec), {renderer: rCorridor, color: cfg.corridors.c[i], weight: 10,
        opacity: 0.6, lineCap: 'butt'})
        .bindTooltip(cfg.corridors.tip[i], {sticky: true})
        .on('click', function (ev) { popupItem = null; openPopup(ev.latlng, cfg.corridors.popup[i]); })
        .addTo(corridors);
    });
  });
  overlays['Corridors (road stretches, per km)'] = corridors;
}
var callers = null;
if (cfg.callers) {  // places with repeat callers (counts only): off by default, explained once
  var RC = cfg.callers, callersSeen = false;
  callers = L.layerGroup();
  map.on('overlayadd', function (e) {
    if (e.layer !== callers) return;
    if (!callers.getLayers().length) {
      RC.ll.forEach(function (p, k) {
        var it = items[RC.i[k]], day = RC.d[k] > 0;
        L.circleMarker(p, {renderer: rTop, radius: 3 + 1.5 * Math.sqrt(RC.s[k]), color: '#7a0177',
          weight: day ? 2.5 : 1.5, fillColor: day ? '#c51b8a' : '#fbb4b9', fillOpacity: 0.7})
          .bindTooltip(callersTip(k), {sticky: true})
          .on('click', function (ev) { if (it) openItem(it, ev.latlng); })
          .addTo(callers);
      });
    }
    if (callersSeen) return;
    callersSeen = true;
    var top = RC.s.indexOf(Math.max.apply(null, RC.s.concat([0])));
    openPopup(top >= 0 ? RC.ll[top] : map.getCenter(), callersNote());
    popupItem = null;
  });
  overlays['Repeat callers' + (RC.synthetic ? ' (synthetic demo data)' : '')] = callers;
}
function callersTip(k) {
  var it = items[cfg.callers.i[k]], name = it ? text(it.name) : '';
  return esc(name) + ': repeat callers ' + cfg.callers.s[k] + ' in 6 months, ' + cfg.callers.d[k] +
    ' in 24 hours';
}
function callersNote() {
  var n = cfg.callers.ll.length;
  return '<div class=hs-popup><b class=hs-name>Repeat callers</b><br>' +
    'Places with 2+ calls from the same caller within 24 hours (dark pink) or within 6 months ' +
    '(pale pink), both counted back from the last record in the data. Bigger circle = more such ' +
    'callers. Counts only: no caller is named or kept.<br>' +
    (n ? n + ' place' + (n === 1 ? '' : 's') + ' on this map; click one for its figures.'
      : 'No listed place on this map has a repeat caller.') +
    (cfg.callers.synthetic ? '<div class=hs-warn><b>Synthetic demo data.</b> The caller column ' +
      'was made up for this demonstration (tests/fixtures/make_callers.py): these counts say ' +
      'nothing about real callers.</div>' : '') + '</div>';
}
var forecast = null;
if (cfg.forecast) {  // next month's list (hotspots run --forecast): off by default
  var F = cfg.forecast;
  forecast = L.layerGroup();
  map.on('overlayadd', function (e) {
    if (e.layer !== forecast || forecast.getLayers().length) return;
    F.ll.forEach(function (p, k) {
      L.circleMarker(p, {renderer: rTop, radius: Math.min(14, 4 + 2 * Math.sqrt(F.e[k] || 0)),
        color: '#00695c', weight: 1.5, fillColor: '#4db6ac', fillOpacity: 0.85})
        .bindTooltip(forecastTip(k), {sticky: true})
        .on('click', function (ev) { popupItem = null; openPopup(ev.latlng, forecastPopup(k)); })
        .addTo(forecast);
    });
  });
  overlays["Next month's list (" + F.month + ')'] = forecast;
}
function expected(v) {
  if (v === null || v === undefined) return 'not given';
  return v >= 10 ? fmt(v) : String(Math.round(v * 100) / 100);
}
function forecastTip(k) {
  var F = cfg.forecast;
  return '#' + F.r[k] + " on next month's list: " + esc(text(F.name[k])) +
    (F.sr[k] ? ' (street #' + F.sr[k] + ')' : '') + ', ' + expected(F.e[k]) + ' crimes expected';
}
function forecastPopup(k) {
  var F = cfg.forecast;
  return '<div class=hs-popup><b class=hs-name>' + F.name[k] + '</b><br>' +
    "Next month's list (" + F.month + '): place <b>#' + F.r[k] + '</b> of ' + F.listed +
    (F.sr[k] ? ', street <b>#' + F.sr[k] + '</b>' + (F.streets ? ' of ' + F.streets : '') : '') +
    '<br>Crimes expected here next month: <b>' + expected(F.e[k]) + '</b>' +
    '<div class=hs-note>' + F.text + '</div></div>';
}
var crimes = null, points = null;
function crimePoints() {  // flat [dlat, dlon, type, n, ...] in 1e-5 degrees -> [[lat, lon, type, n]]
  if (points) return points;
  points = [];
  for (var k = 0, lat = 0, lon = 0; k < cfg.crimes.length; k += 4) {
    lat += cfg.crimes[k]; lon += cfg.crimes[k + 1];
    points.push([lat / 1e5, lon / 1e5, cfg.crimes[k + 2], cfg.crimes[k + 3]]);
  }
  return points;
}
function drawCrimes() {
  if (!crimes) return;
  crimes.clearLayers();
  if (!map.hasLayer(crimes) || map.getZoom() < cfg.crimesMinZoom) return;
  var b = map.getBounds(), sel = selection();
  crimePoints().forEach(function (p) {
    if (!sel.mask[p[2]] || !b.contains([p[0], p[1]])) return;
    L.circleMarker([p[0], p[1]], {renderer: rTop, radius: 2 + Math.sqrt(p[3]), color: '#333',
      weight: 1, fillColor: '#fff', fillOpacity: 0.6})
      .bindTooltip(esc(C.types[p[2]]) + ': ' + p[3]).addTo(crimes);
  });
}
if (cfg.crimes) {
  crimes = L.layerGroup();
  overlays['Crime locations (zoom in)'] = crimes;
  map.on('zoomend moveend overlayadd', drawCrimes);
}

// ---- re-ranking --------------------------------------------------------------------------
function band(rank) {
  for (var i = 0; i < cfg.rankBands.length; i++) if (rank <= cfg.rankBands[i][0]) return cfg.rankBands[i];
  return cfg.rankBands[cfg.rankBands.length - 1];
}
function rankBy(list, key, count) {  // streets first (as the area lists), then locations
  var order = list.filter(function (it) { return it[key] > 0; });
  order.sort(function (a, b) {
    return (a.kind === 'street' ? 0 : 1) - (b.kind === 'street' ? 0 : 1) || b[key] - a[key] ||
      b[count] - a[count] || a.r0 - b.r0; });
  return order;
}
function score(it, sel, count, harm) {
  if (sel.rankBy === 'harm') return harm;
  return sel.rankBy === 'density' && it.len ? Math.round(1e5 * count / it.len) / 1e3 : count;
}
var order = [];
function rerank() {
  var sel = selection();
  items.forEach(function (it) {
    var r = tally(it, sel);
    it.cur = r[0]; it.prev = r[1]; it.val = score(it, sel, r[0], r[2]);
    it.prevVal = score(it, sel, r[1], r[1]);
    it.status = status(r[0], r[1]); it.rank = null; it.prevRank = null;
  });
  order = rankBy(items, 'val', 'cur');
  order.forEach(function (it, k) { it.rank = k + 1; });
  if (sel.change) rankBy(items, 'prevVal', 'prev').forEach(function (it, k) { it.prevRank = k + 1; });
  var top = cfg.topN || 1e9;
  items.forEach(function (it) {
    var show = (it.rank && it.rank <= top) || (sel.change && it.prevRank && it.prevRank <= top);
    if (show) styleItem(it, sel);
    if (show && !streets.hasLayer(it.layer)) streets.addLayer(it.layer);
    if (!show && streets.hasLayer(it.layer)) streets.removeLayer(it.layer);
  });
  labels.clearLayers();
  order.slice(0, 10).forEach(function (it) {
    L.marker(centre(it.layer), {icon: L.divIcon({className: 'hs-rank', html: String(it.rank),
      iconSize: [20, 20]}), keyboard: false, title: text(it.name)})
      .on('click', function () { openItem(it, centre(it.layer)); }).addTo(labels);
  });
  restyleAreas(sel);
  drawCrimes(); drawLegend(); drawFigures(sel); drawTop10(sel);
  if (popupItem && map.hasLayer(popup)) popup.setContent(itemPopup(popupItem));
}
function styleItem(it, sel) {
  var colour, weight;
  if (sel.change) {
    colour = CHANGE[it.status][0]; weight = it.status === 'few' || it.status === 'same' ? 3 : 6;
  } else {
    var b = band(it.rank || 1e9);
    colour = st.colour === 'sig' && it.cs ? it.cs : b[1]; weight = b[3];
  }
  var s = {color: colour, opacity: 0.9, dashArray: sel.change && it.status === 'few' ? '4 4' : null};
  if (it.kind === 'street') { s.weight = weight; it.layer.setStyle(s); }
  else it.layer.setStyle({color: colour, fillColor: colour, weight: 1, opacity: 0.9});
}
var areaBreaks = [];
function areaValue(it, sel) {
  var r = tally(it, sel);
  it.cur = r[0]; it.prev = r[1]; it.status = status(r[0], r[1]);
  var v = sel.harm ? r[2] : r[0];
  if (!it.m.length) return null;
  return it.pop ? 1000 * v / it.pop : v;
}
function quintiles(vals) {
  if (!vals.length) return [];
  vals = vals.slice().sort(function (a, b) { return a - b; });
  return [0.2, 0.4, 0.6, 0.8].map(function (q) {
    var x = q * (vals.length - 1), lo = Math.floor(x), f = x - lo;
    var v = vals[lo] + (vals[Math.min(lo + 1, vals.length - 1)] - vals[lo]) * f;
    return Math.round(v * 10) / 10; });
}
function restyleAreas(sel) {
  if (!areaItems.length) return;
  var vals = [];
  areaItems.forEach(function (it) { it.v = areaValue(it, sel); if (it.v !== null) vals.push(it.v); });
  areaBreaks = quintiles(vals);
  areaItems.forEach(function (it) {
    var c = sel.change ? (it.v === null ? '#eeeeee' : CHANGE[it.status][0]) : areaColour(it.v);
    it.layer.setStyle({fillColor: c});
  });
}
function areaColour(v) {
  if (v === null) return '#eeeeee';
  for (var i = 0; i < areaBreaks.length; i++) if (v <= areaBreaks[i]) return cfg.areaColours[i];
  return cfg.areaColours[cfg.areaColours.length - 1];
}
function measureName(sel) {
  return (sel.harm ? 'harm (crime harm index days) of ' : '') + groupLabel();
}
function rankNote(sel) {
  return 'ranked by ' + RANK_BY[sel.rankBy];
}
function fmt(v) { return v >= 100 ? Math.round(v).toLocaleString('en-GB') : String(Math.round(v * 10) / 10); }
function areaTip(it) {
  var sel = selection(), per = it.pop ? ' per 1,000 residents' : '';
  var v = it.v === null || it.v === undefined ? 'no data' : fmt(it.v) + per;
  var h = esc(it.name) + ': ' + esc(measureName(sel)) + ', ' + sel.label + ': ' + v;
  if (sel.hasPrev && sel.key !== 'all') h += '; ' + it.cur + ' crimes now, ' + it.prev + ' before (' + pct(it.cur, it.prev) + ')';
  return h;
}

// ---- popups -----------------------------------------------------------------------------
var popup = L.popup({maxWidth: 360, autoPanPaddingTopLeft: [50, 120],
  autoPanPaddingBottomRight: [300, 20]}), popupItem = null;
function padPopup() {  // keep the popup clear of the title block and the controls
  var box = map.getContainer().getBoundingClientRect(), small = window.innerWidth < 700;
  var title = document.getElementById('hs-title').getBoundingClientRect();
  var right = map._controlCorners.topright.getBoundingClientRect();
  var left = map._controlCorners.topleft.getBoundingClientRect();
  // on a phone the options and the legend hide while a popup is open (see map.css)
  var top = Math.max(title.bottom, left.bottom, small ? right.bottom : 0) - box.top + 12;
  var rightPad = !small && right.height > 60 ? box.right - right.left + 12 : 8;
  var leftPad = small ? 8 : Math.min(left.right - box.left + 8, 60);
  popup.options.autoPanPaddingTopLeft = L.point(leftPad, top);
  popup.options.autoPanPaddingBottomRight = L.point(rightPad, 12);
  popup.options.maxHeight = Math.max(150, box.height - top - 60);
  popup.options.maxWidth = small ? box.width - 70 : Math.max(200, Math.min(360, box.width - rightPad - 80));
  popup.options.minWidth = small ? Math.min(220, box.width - 70) : 50;
}
function openPopup(latlng, html) {
  document.body.classList.add('hs-popup-open');
  padPopup();
  popup.setLatLng(latlng).setContent(html).openOn(map);
}
function openItem(it, latlng) {
  popupItem = it;
  openPopup(latlng || centre(it.layer), itemPopup(it));
}
map.on('popupclose', function () { popupItem = null; document.body.classList.remove('hs-popup-open'); });
function linkLine(code) {
  var l = links[code] || {};
  return Object.keys(l).map(function (k) {
    return "<a href='" + esc(l[k]) + "' target=_blank>" + esc(k) + '</a>'; }).join(' · ');
}
function itemPopup(it) {
  var sel = selection(), now = '<div class=hs-now>';
  now += esc(groupLabel()) + ', ' + sel.label + ': <b>' + it.cur + ' crimes</b>';
  if (sel.harm) now += ' (harm ' + fmt(it.val) + ' days)';
  else if (sel.rankBy === 'density' && it.len) now += ' (' + fmt(it.val) + ' per 100 m)';
  now += it.rank ? '; <b>#' + it.rank + '</b> on this map' : '; not ranked for this choice';
  if (sel.hasPrev && sel.key !== 'all') {
    now += '<br>Previous ' + sel.label.replace('last ', '') + ': ' + it.prev + ' (' + pct(it.cur, it.prev) + ')';
    if (sel.change) now += '<br>What changed: <b>' + CHANGE[it.status][1] + '</b>';
  }
  now += '</div>';
  var l = linkLine(it.area);
  var body = cfg.callers && cfg.callers.synthetic ?
    it.popup.replace('<br>Repeat callers:', '<br>Repeat callers (synthetic demo data):') : it.popup;
  return body.replace('<!--now-->', now).replace(WINDOW_LINE, function () { return groupWindow(it); }).replace('<!--profile-->', heat(it.pf))
    .replace(/<\/div>$/, monthChart(it, sel) +
    (l ? '<div class=hs-links>' + l + '</div>' : '') + '</div>');
}
var WINDOW_LINE = /Patrol window: <b>[^<]*<\/b>/;  // the all-crime line (text escaped)
function chosenGroup() {  // index of the chosen crime group (a type's group), or -1
  if (!st.group) return -1;
  return st.group[0] === 'g' ? +st.group.slice(2) : C.typeGroup[+st.group.slice(2)];
}
function groupWindow(it) {  // the patrol window of the chosen crime group at this place
  var all = it.popup.match(WINDOW_LINE), g = chosenGroup();
  if (g < 0) return all ? all[0] : '';
  var label = esc(C.groups[g][1]);
  for (var k = 0; it.wn && k < it.wn.length; k += 2) {
    if (it.wn[k] === g) return 'Patrol window, ' + label + ': <b class=hs-window>' +
      cfg.windowTexts[it.wn[k + 1]] + '</b>';
  }
  if (!all) return '';
  return all[0].replace('Patrol window:', 'Patrol window, all crime (too few ' + label +
    ' crimes here for their own):');
}
var DAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];
function heat(code) {  // the hour-of-week heatmap of hotspots.temporal.hour_day_svg, redrawn
  if (!code) return '';
  var body = '';
  cfg.heatPalette.forEach(function (colour, lev) {
    var d = '';
    for (var c = 0; c < 168; c++) {
      if (+code[1][c] === lev) d += 'M' + (20 + 5 * (c % 24)) + ' ' + (2 + 5 * Math.floor(c / 24)) + 'h5v5h-5z';
    }
    if (d) body += '<path fill="' + colour + '" d="' + d + '"/>';
  });
  DAYS.forEach(function (d, i) { body += '<text x="0" y="' + (7 + 5 * i) + '">' + d + '</text>'; });
  [0, 6, 12, 18].forEach(function (h) {
    body += '<text x="' + (20 + 5 * h) + '" y="46">' + (h < 10 ? '0' : '') + h + '</text>'; });
  return '<svg xmlns="http://www.w3.org/2000/svg" width="142" height="48" viewBox="0 0 142 48" ' +
    'role="img" aria-label="' + code[0] + '"><title>' + code[0] + '</title>' + body +
    '<style>text{font:7px sans-serif;fill:#444}</style></svg>';
}
function monthChart(it, sel) {  // bars of the last (up to) 36 months of the chosen crime
  if (M < 3 || !it.m) return '';
  var v = [], n = Math.min(M, 36), start = M - n, max = 1, k, i;
  for (i = 0; i < M; i++) v.push(0);
  for (k = 0; k < it.m.length; k += 2) {
    var t = (it.m[k] / M) | 0;
    if (sel.mask[t]) v[it.m[k] - t * M] += it.m[k + 1];
  }
  for (i = start; i < M; i++) max = Math.max(max, v[i]);
  var cur = sel.unit === 'm' && sel.key !== 'all' ? M - sel.len : M, bars = '';
  for (i = start; i < M; i++) {
    var h = Math.round(34 * v[i] / max), colour = i >= cur ? '#d94801' : '#9e9e9e';
    bars += '<rect x="' + (i - start) * 5 + '" y="' + (36 - h) + '" width="4" height="' + h +
      '" fill="' + colour + '"><title>' + C.months[i] + ': ' + v[i] + '</title></rect>';
  }
  return '<div class=hs-chart>' + esc(groupLabel()) + ' per month, ' + C.months[start] + ' to ' +
    C.months[M - 1] + ' (most ' + max + ')<br><svg width="' + n * 5 + '" height="36">' + bars +
    '</svg></div>';
}
function areaPopup(it) {
  var l = linkLine(it.code);
  return '<div class=hs-popup><b class=hs-name>' + esc(it.name) + '</b><br>' + areaTip(it) +
    (l ? '<div class=hs-links>' + l + '</div>' : '') + '</div>';
}

// ---- controls ---------------------------------------------------------------------------
var narrow = window.innerWidth < 700;
var layersCtl = L.control.layers(null, overlays, {collapsed: narrow, position: 'topright'}).addTo(map);
var ctl = L.control({position: 'topright'});
ctl.onAdd = function () {
  var d = L.DomUtil.create('div', 'hs-ctl');
  var groups = C.groups.map(function (g, i) { return '<option value="g:' + i + '">' + esc(g[1]) + '</option>'; });
  var types = C.types.map(function (t, i) { return '<option value="t:' + i + '">' + esc(t) + '</option>'; });
  var periods = PERIODS.map(function (p) { return '<option value="' + p[0] + '">' + p[1] + '</option>'; });
  d.innerHTML = '<details' + (narrow ? '' : ' open') + '><summary>Choose what to show</summary>' +
    '<label>Crime <select id=hs-group><option value="">All crime</option><optgroup label="Crime groups">' +
    groups.join('') + '</optgroup><optgroup label="Crime types (as recorded)">' + types.join('') +
    '</optgroup></select></label>' +
    '<label>Rank by <select id=hs-rankby>' + Object.keys(RANK_BY).map(function (k) {
      return '<option value="' + k + '">' + RANK_BY[k] + (k === 'density' ? ' (as the lists)' : '') +
        '</option>'; }).join('') + '</select></label>' +
    '<label>Period <select id=hs-period>' + periods.join('') + '</select></label>' +
    '<label>Show <select id=hs-view><option value="hot">hot streets</option>' +
    '<option value="change">what changed (on the previous period)</option></select></label>' +
    (cfg.hasSig ? '<label>Colour streets by <select id=hs-colour><option value=rank>rank</option>' +
      '<option value=sig>statistical hot spot (Gi*)</option></select></label>' : '') +
    '<label>Find a street or area <input id=hs-search list=hs-names placeholder="type a name"></label>' +
    '<datalist id=hs-names></datalist></details>';
  L.DomEvent.disableClickPropagation(d);
  L.DomEvent.disableScrollPropagation(d);
  return d;
};
ctl.addTo(map);
function on(id, fn) {
  var el = document.getElementById(id);
  if (el) el.addEventListener('change', function () { fn(el.value); rerank(); });
}
on('hs-group', function (v) { st.group = v; });
on('hs-rankby', function (v) { st.rankBy = v; });
on('hs-period', function (v) { st.period = v; });
on('hs-view', function (v) {
  st.view = v;
  if (v === 'change' && st.period === 'all') {
    st.period = PERIODS.length > 2 ? '3m' : PERIODS[PERIODS.length - 1][0];
    document.getElementById('hs-period').value = st.period;
  }
});
on('hs-colour', function (v) { st.colour = v; });
var dl = document.getElementById('hs-names'), seen = {};
searchIndex.forEach(function (s) {
  var key = s.name + (s.kind === 'area' ? ' (area)' : '');
  if (seen[key]) return; seen[key] = s;
  var o = document.createElement('option'); o.value = key; dl.appendChild(o);
});
document.getElementById('hs-search').addEventListener('change', function (ev) {
  var s = seen[ev.target.value];
  if (!s) return;
  map.fitBounds(s.layer.getBounds(), {maxZoom: 17});
  if (s.kind === 'area') openPopup(s.layer.getBounds().getCenter(), areaPopup(s.item));
  else openItem(s.item);
});

// ---- legend, figures, top 10 ----------------------------------------------------------------
function sw(colour, label, shape) {
  return '<div><i class="' + (shape || '') + '" style="background:' + colour + '"></i>' + label + '</div>';
}
var legend = L.control({position: 'bottomleft'}), legendDiv = null;
legend.onAdd = function () {
  legendDiv = L.DomUtil.create('div', 'hs-legend');
  L.DomEvent.disableScrollPropagation(legendDiv);
  return legendDiv;
};
legend.addTo(map);
function legendHtml() {
  var sel = selection(), h = '', what = measureName(sel) + ', ' + sel.label;
  if (items.length && map.hasLayer(streets)) {
    var shown = streets.getLayers().length;
    h += '<div class=sec>Hot streets: ' + esc(what) + ' (' + shown + ' drawn)</div>';
    if (!sel.change) h += '<div class=note>' + rankNote(sel) + '</div>';
    if (sel.change) {
      var n = {};
      streets.getLayers().forEach(function (l) { n[l.hsItem.status] = (n[l.hsItem.status] || 0) + 1; });
      h += '<div class=note>Against the previous ' + sel.label.replace('last ', '') + '</div>';
      Object.keys(CHANGE).forEach(function (k) { h += sw(CHANGE[k][0], CHANGE[k][1] + ': ' + (n[k] || 0), 'ln'); });
    } else if (st.colour === 'sig') {
      Object.keys(cfg.sigColours).forEach(function (k) { h += sw(cfg.sigColours[k], esc(k), 'ln'); });
    } else {
      cfg.rankBands.forEach(function (b) { h += sw(b[1], b[2], 'ln w' + b[3]); });
      h += '<div class=note>Thicker = higher rank; numbers: the top 10.</div>';
    }
  }
  // layers switched on by hand come before the areas (the legend scrolls on small screens)
  if (callers && map.hasLayer(callers)) {
    h += '<div class=sec>Repeat callers' + (cfg.callers.synthetic ? ' (synthetic demo data)' : '') +
      ': ' + cfg.callers.ll.length + ' places</div>';
    h += sw('#c51b8a', '2+ calls from one caller within 24 hours', 'dot');
    h += sw('#fbb4b9', '2+ calls from one caller within 6 months', 'dot');
    h += '<div class=note>Bigger = more such callers. Counts only, never who called.</div>';
  }
  if (forecast && map.hasLayer(forecast)) {
    var F = cfg.forecast;
    h += "<div class=sec>Next month's list, " + F.month + ': ' + (cfg.focus ? F.ll.length +
      ' of its ' + F.listed + ' places are on this map' : F.listed + ' places') + '</div>';
    if (F.coverage) h += '<div class=note>The whole list covers ' + F.coverage + '% of the study area.</div>';
    h += sw('#4db6ac', 'a listed place (bigger = more crime expected)', 'dot');
    h += '<div class=note>' + F.text + '</div>';
  }
  if (corridors && map.hasLayer(corridors)) {
    var nc = cfg.corridors.g.length;
    h += '<div class=sec>Corridors: crimes per km, whole period (' + (cfg.focus ? nc +
      ' through this area; ranks among all ' : nc + ' drawn of ') + cfg.corridors.total + ')</div>';
    cfg.corridors.bands.forEach(function (b) { h += sw(b[0], b[1], 'ln w6'); });
    h += '<div class=note>Runs of one named road across junctions; click one for its length' +
      (cfg.corridors.collisions ? ', collisions' : '') + ' and harm per km.</div>';
  }
  if (areas && map.hasLayer(areas)) {
    var per = cfg.areaPerPop ? ' per 1,000 residents' : '';
    h += '<div class=sec>Areas: ' + esc(what) + per + '</div>';
    if (sel.change) {
      ['rising', 'falling', 'same', 'few'].forEach(function (k) { h += sw(CHANGE[k][0], CHANGE[k][1]); });
      h += sw('#eeeeee', 'no data (not in the extract)');
    } else {
      var lo = 0;
      areaBreaks.concat([null]).forEach(function (b, i) {
        h += sw(cfg.areaColours[i], b === null ? 'over ' + fmt(lo) : fmt(lo) + ' to ' + fmt(b)); lo = b; });
      h += sw('#eeeeee', 'no data (not in the extract)');
    }
  }
  if (hexes && map.hasLayer(hexes)) {
    h += '<div class=sec>Hot spot hexagons (more crime than chance, Gi*)</div>';
    cfg.hexes.classes.forEach(function (k) { h += sw(cfg.sigColours[k], esc(k)); });
  }
  if (clusters && map.hasLayer(clusters)) h += sw('#6a51a3', 'Crime clusters (dense groups of crimes)', 'dash');
  if (repeats && map.hasLayer(repeats)) h += sw('#bcbddc', 'Repeat locations: one point with ' + cfg.repeats.min + '+ crimes (bigger = more)', 'dot');
  if (crimes && map.hasLayer(crimes)) h += sw('#ffffff', 'Crime locations, whole period (from zoom ' + cfg.crimesMinZoom + ')', 'dot');
  if (cfg.base && map.hasLayer(baseGroup)) {
    h += sw('#a0a0a0', 'Streets' + (cfg.base.main ? ' (main roads only below zoom ' + MAIN_ZOOM + ')' : ''), 'ln');
  }
  return h;
}
function drawLegend() { if (legendDiv) legendDiv.innerHTML = legendHtml(); }
map.on('overlayadd overlayremove', drawLegend);
function drawFigures(sel) {
  var els = document.querySelectorAll('.hs-figs');
  if (!els.length) return;
  var mine = areaItems.filter(function (it) { return cfg.focus ? it.focus : true; });
  var cur = 0, prev = 0;
  mine.forEach(function (it) { cur += it.cur || 0; prev += it.prev || 0; });
  if (!mine.length) items.forEach(function (it) { cur += it.cur; prev += it.prev; });
  var h = '<b>' + cur.toLocaleString('en-GB') + '</b> crimes (' + esc(groupLabel()) + ', ' + sel.label + ')';
  if (sel.hasPrev && sel.key !== 'all') h += ', ' + pct(cur, prev) + ' on the previous ' + sel.label.replace('last ', '') + ' (' + prev.toLocaleString('en-GB') + ')';
  else if (M >= 6) {  // the whole period: say how the last 3 months compare all the same
    var q = {unit: 'm', U: M, len: 3, mask: sel.mask}, c3 = 0, p3 = 0;
    (mine.length ? mine : items).forEach(function (it) { var r = tally(it, q); c3 += r[0]; p3 += r[1]; });
    h += '; last 3 months ' + c3.toLocaleString('en-GB') + ', ' + pct(c3, p3) + ' on the 3 before';
  }
  if (cfg.trend) h += '. Trend: ' + cfg.trend;
  if (order.length) h += '. Top street: <b>' + order[0].name + '</b>';
  els.forEach(function (el) { el.innerHTML = h + '.'; });
}
function drawTop10(sel) {
  var el = document.getElementById('hs-top10');
  if (!el) return;
  el.innerHTML = '<b>Top 10: ' + esc(measureName(sel)) + ', ' + sel.label + ', ' + rankNote(sel) + '</b><ol>' +
    order.slice(0, 10).map(function (it) {
      return '<li>' + it.name + ' (' + it.cur + (sel.hasPrev && sel.key !== 'all' ? '; before ' + it.prev : '') + ')</li>'; }).join('') + '</ol>';
  var lg = document.getElementById('hs-print-legend');
  if (lg) lg.innerHTML = legendHtml();
}
rerank();
function placeCorners() {  // on a phone the title spans the top: controls go below it
  var title = document.getElementById('hs-title'), corner = map._controlCorners.topright;
  corner.style.marginTop = window.innerWidth < 700 && title ?
    Math.round(title.getBoundingClientRect().bottom) + 'px' : '';
}
placeCorners();
window.addEventListener('resize', placeCorners);
var mq = window.matchMedia ? window.matchMedia('print') : null;
function resize() { setTimeout(function () { map.invalidateSize(false); }, 0); }
if (mq && mq.addEventListener) mq.addEventListener('change', resize);
window.addEventListener('beforeprint', function () { map.invalidateSize(false); });
window.addEventListener('afterprint', resize);
var hash = window.location.hash.match(/^#(-?[\d.]+),(-?[\d.]+)(?:,(\d+))?/);
if (hash) map.setView([+hash[1], +hash[2]], hash[3] ? +hash[3] : 18);
window.hotspotsMap = {map: map, overlays: overlays, streets: streets, labels: labels,
  callers: callers, forecast: forecast,
  items: items, areas: areaItems, state: st, rerank: rerank, openItem: openItem, counts: C, heat: heat,
  changeColours: Object.fromEntries(Object.keys(CHANGE).map(function (k) { return [k, CHANGE[k][0]]; })),
  order: function () { return order; }};
