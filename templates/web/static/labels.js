/* Label print centre: the sheet map (click the cells already peeled off), and the fields that follow the kind and
   stock chosen. Without this script the page still works: the clerk types the start cell and the used cells. */
(function () {
  "use strict";
  var form = document.getElementById("label-input");
  if (!form) {
    return;
  }
  var SVG = "http://www.w3.org/2000/svg";
  var kind = document.getElementById("kind");
  var stock = document.getElementById("stock");
  var start = document.getElementById("start");
  var used = document.getElementById("used");
  var map = document.getElementById("sheet-map");
  var geometry = document.getElementById("stock-geometry");
  var positionFields = document.getElementById("position-fields");
  var rollNote = document.getElementById("roll-note");
  var qr = document.getElementById("qr");
  var stockError = document.getElementById("stock-error");

  function parseCells(text) {
    var cells = {};
    text.split(/[,，、;；\s]+/).forEach(function (part) {
      var match = /^(\d+)(?:[-–~～](\d+))?$/.exec(part);
      if (!match) {
        return;
      }
      var first = parseInt(match[1], 10);
      var last = match[2] ? parseInt(match[2], 10) : first;
      for (var n = first; n <= last && n - first < 1000; n += 1) {
        cells[n] = true;
      }
    });
    return cells;
  }

  function formatCells(cells) {
    var list = Object.keys(cells).map(Number).sort(function (a, b) { return a - b; });
    var parts = [];
    var i = 0;
    while (i < list.length) {
      var j = i;
      while (j + 1 < list.length && list[j + 1] === list[j] + 1) {
        j += 1;
      }
      if (j - i >= 2) {
        parts.push(list[i] + "-" + list[j]);
      } else {
        parts.push(list.slice(i, j + 1).join(","));
      }
      i = j + 1;
    }
    return parts.join(",");
  }

  function cellsOf() {
    return Array.prototype.slice.call(map.querySelectorAll("[data-cell]"));
  }

  /* Used, skipped (before the start cell) and the first label's cell, from the two fields. */
  function refresh() {
    var cells = parseCells(used.value);
    var first = parseInt(start.value, 10) || 1;
    var firstFree = null;
    cellsOf().forEach(function (cell) {
      var n = parseInt(cell.getAttribute("data-cell"), 10);
      var isUsed = Boolean(cells[n]);
      var skipped = n < first;
      cell.classList.toggle("used", isUsed);
      cell.classList.toggle("skipped", skipped);
      cell.setAttribute("aria-checked", isUsed ? "true" : "false");
      if (firstFree === null && !isUsed && !skipped) {
        firstFree = n;
      }
    });
    cellsOf().forEach(function (cell) {
      cell.classList.toggle("first", parseInt(cell.getAttribute("data-cell"), 10) === firstFree);
    });
  }

  function toggle(cell) {
    var n = parseInt(cell.getAttribute("data-cell"), 10);
    var cells = parseCells(used.value);
    if (cells[n]) {
      delete cells[n];
    } else {
      cells[n] = true;
    }
    used.value = formatCells(cells);
    refresh();
  }

  function numbers(option, name) {
    return option.getAttribute("data-" + name).split(" ").map(Number);
  }

  function element(name, attributes) {
    var node = document.createElementNS(SVG, name);
    Object.keys(attributes).forEach(function (key) {
      node.setAttribute(key, attributes[key]);
    });
    return node;
  }

  /* Draw the chosen stock's sheet to scale (the server drew the first one the same way). */
  function build() {
    var option = stock.options[stock.selectedIndex];
    geometry.textContent = option.getAttribute("data-geometry");
    var roll = option.getAttribute("data-roll") === "1";
    positionFields.hidden = roll;
    rollNote.hidden = !roll;
    map.textContent = "";
    if (roll) {
      start.value = "1";
      used.value = "";
      return;
    }
    var page = numbers(option, "page");
    var label = numbers(option, "label");
    var grid = numbers(option, "grid");
    var pitch = numbers(option, "pitch");
    var margin = numbers(option, "margin");
    var radius = option.getAttribute("data-radius");
    var size = Math.round(Math.min(label[1] * 0.42, label[0] * 0.3, 9) * 100) / 100;
    var name = map.getAttribute("data-cell-name");
    var svg = element("svg", { "class": "sheet-svg", viewBox: "0 0 " + page[0] + " " + page[1], role: "group",
      "aria-label": map.getAttribute("data-title") });
    svg.appendChild(element("rect", { "class": "paper", x: 0, y: 0, width: page[0], height: page[1] }));
    for (var row = 0; row < grid[1]; row += 1) {
      for (var column = 0; column < grid[0]; column += 1) {
        var n = row * grid[0] + column + 1;
        var x = margin[0] + column * pitch[0];
        var y = margin[1] + row * pitch[1];
        var cell = element("g", { "class": "cell", "data-cell": n, role: "checkbox", tabindex: 0,
          "aria-checked": "false", "aria-label": name.replace("{n}", n) });
        cell.appendChild(element("rect", { x: x, y: y, width: label[0], height: label[1], rx: radius }));
        var text = element("text", { x: x + label[0] / 2, y: y + label[1] / 2, "font-size": size,
          "text-anchor": "middle", "dominant-baseline": "central" });
        text.textContent = String(n);
        cell.appendChild(text);
        svg.appendChild(cell);
      }
    }
    map.appendChild(svg);
    var kept = {};
    var cells = parseCells(used.value);
    Object.keys(cells).forEach(function (key) {
      if (Number(key) <= grid[0] * grid[1]) {
        kept[key] = true;
      }
    });
    used.value = formatCells(kept);
    refresh();
  }

  /* Fields that do not apply to the kind are hidden (a calibration sheet has no scope, QR only on some kinds). */
  function applyKind() {
    var option = kind.options[kind.selectedIndex];
    var binds = option.getAttribute("data-binds");
    Array.prototype.forEach.call(form.querySelectorAll("[data-show]"), function (node) {
      node.hidden = node.getAttribute("data-show").split(" ").indexOf(binds) < 0;
    });
    qr.disabled = option.getAttribute("data-qr") !== "1";
    if (qr.disabled) {
      qr.checked = false;
    }
  }

  map.addEventListener("click", function (event) {
    var cell = event.target.closest ? event.target.closest("[data-cell]") : null;
    if (cell) {
      toggle(cell);
    }
  });
  map.addEventListener("keydown", function (event) {
    var cell = event.target.closest ? event.target.closest("[data-cell]") : null;
    if (cell && (event.key === " " || event.key === "Enter")) {
      event.preventDefault();
      toggle(cell);
    }
  });
  stock.addEventListener("change", function () {
    if (stockError) {
      stockError.hidden = true;  // the refusal was for the stock chosen before
    }
    build();
  });
  kind.addEventListener("change", function () {
    var wanted = kind.options[kind.selectedIndex].getAttribute("data-default-stock");
    if (wanted && stock.querySelector("option[value='" + wanted + "']") && stock.value !== wanted) {
      stock.value = wanted;
      stock.dispatchEvent(new Event("change"));
    }
    applyKind();
  });
  start.addEventListener("input", refresh);
  used.addEventListener("input", refresh);
  applyKind();
  refresh();
}());
