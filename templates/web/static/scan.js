/* Scan station: a keyboard-wedge scanner types a code and Enter into one input. Each lending scan gets a client id
   and is written to localStorage BEFORE it is sent, so no scan is lost when the township network drops out or the
   page is reloaded; the journal is sent in order (POST /api/v1/scans, or /scans/batch when several wait) and the
   server applies each client id once. A mode is one entry of MODES: its colour class, the fields it shows and what
   a scan does. Inventory mode (盘点) goes through the same journal: its scans carry the inventory and the current
   shelf (set by scanning a shelf label) and are sent one by one, in order, to /api/v1/inventories/<id>/scans.
   Inspection mode (抽查) only reads: a folder of the chosen inspection opens its checklist (needs the network). */
(function () {
  "use strict";
  var root = document.getElementById("scan-station");
  if (!root) {
    return;
  }
  var JOURNAL_KEY = "archiveprint.scan.journal.v1";  // scans not yet answered by the server (codes only)
  var SETTINGS_KEY = "archiveprint.scan.settings.v1";  // mode, borrower, purpose: they stay set between scans
  var INVENTORY_KEY = "archiveprint.scan.inventory.v1";  // open inventories and each one's current shelf
  var RETRY_MS = 5000;
  var SAME_SCAN_MS = 1500;  // the same code and mode again within this time is one scan sent twice
  var LOG_MAX = 30;

  var input = document.getElementById("scan-code");
  var form = document.getElementById("scan-form");
  var feedback = document.getElementById("scan-feedback");
  var messageBox = document.getElementById("scan-message");
  var detailBox = document.getElementById("scan-detail");
  var journalBox = document.getElementById("scan-journal");
  var offlineText = document.getElementById("scan-offline");
  var flushButton = document.getElementById("scan-flush");
  var log = document.getElementById("scan-log");
  var borrower = document.getElementById("scan-borrower");
  var borrowerList = document.getElementById("borrower-list");
  var purpose = document.getElementById("scan-purpose");
  var purposeNote = document.getElementById("scan-purpose-note");
  var condition = document.getElementById("scan-condition");
  var note = document.getElementById("scan-note");
  var inventorySelect = document.getElementById("scan-inventory");
  var shelfBox = document.getElementById("scan-shelf");
  var inventoryLink = document.getElementById("scan-inventory-link");
  var inspectionSelect = document.getElementById("scan-inspection");
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var text = function (name) { return root.getAttribute("data-text-" + name) || ""; };

  var MODES = {
    locate: { fields: null, run: locate },
    out: { fields: "fields-out", run: journalScan, extra: function () {
      return { borrower: borrower.value.trim(), purpose: purpose.value, purpose_note: purposeNote.value.trim() };
    } },
    "return": { fields: "fields-return", run: journalScan, extra: function () {
      return { condition: condition.value, note: note.value.trim() };
    }, after: function () { condition.value = "intact"; note.value = ""; } }
  };
  if (inventorySelect) {  // only for users who may count (manage_locations)
    MODES.inventory = { fields: "fields-inventory", run: inventoryScan };
  }
  if (inspectionSelect) {  // only for users who may inspect
    MODES.inspect = { fields: "fields-inspect", run: inspectionScan };
  }
  var buttons = Array.prototype.slice.call(root.querySelectorAll("[data-mode]"));
  var labels = {};
  buttons.forEach(function (button) { labels[button.getAttribute("data-mode")] = button.firstChild.textContent.trim(); });

  var mode = "locate";
  var sending = false;
  var retryTimer = null;
  var last = null;  // {mode, code, at, client_id}

  /* --- storage ---------------------------------------------------------------------------------------------- */
  function readJSON(key, fallback) {
    try {
      var value = JSON.parse(window.localStorage.getItem(key));
      return value === null ? fallback : value;
    } catch (error) {
      return fallback;
    }
  }
  function journal() { return readJSON(JOURNAL_KEY, []); }
  function saveJournal(items) { window.localStorage.setItem(JOURNAL_KEY, JSON.stringify(items)); }
  function saveSettings() {
    window.localStorage.setItem(SETTINGS_KEY, JSON.stringify({
      mode: mode, borrower: borrower.value, purpose: purpose.value,
      inventory: inventorySelect ? inventorySelect.value : "",
      inspection: inspectionSelect ? inspectionSelect.value : "" }));
  }

  /* --- sound: WebAudio beeps, no audio files ------------------------------------------------------------------ */
  var audio = null;
  function beep(level) {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      return;
    }
    try {
      audio = audio || new Context();
      var tones = { ok: [[880, 0, 0.12]], warn: [[520, 0, 0.12], [520, 0.18, 0.12]],
                    error: [[200, 0, 0.45]] }[level] || [];
      tones.forEach(function (tone) {
        var oscillator = audio.createOscillator();
        var gain = audio.createGain();
        oscillator.type = level === "error" ? "square" : "sine";
        oscillator.frequency.value = tone[0];
        gain.gain.value = 0.15;
        oscillator.connect(gain);
        gain.connect(audio.destination);
        oscillator.start(audio.currentTime + tone[1]);
        oscillator.stop(audio.currentTime + tone[1] + tone[2]);
      });
    } catch (error) {
      /* no sound device: the colours still tell */
    }
  }

  /* --- feedback and the list of last actions ----------------------------------------------------------------- */
  function show(level, message, detail) {
    feedback.className = "scan-feedback level-" + level;
    feedback.setAttribute("data-level", level);
    messageBox.textContent = message;
    detailBox.textContent = detail || "";
    beep(level);
  }

  function logRow(entry) {
    var row = document.getElementById("scan-" + entry.client_id);
    if (!row) {
      row = document.createElement("li");
      row.id = "scan-" + entry.client_id;
      row.setAttribute("data-client-id", entry.client_id);
      log.insertBefore(row, log.firstChild);
      while (log.children.length > LOG_MAX) {
        log.removeChild(log.lastChild);
      }
    }
    return row;
  }

  function describe(row, entry, level, message) {
    row.className = "scan-row level-" + level;
    row.setAttribute("data-level", level);
    row.textContent = "";
    var time = document.createElement("span");
    time.className = "scan-time";
    time.textContent = new Date(entry.scanned_at).toLocaleTimeString();
    var what = document.createElement("span");
    what.className = "scan-what";
    what.textContent = (labels[entry.mode] || entry.mode) + " " + entry.code;
    var said = document.createElement("span");
    said.className = "scan-said";
    said.textContent = message;
    row.appendChild(time);
    row.appendChild(what);
    row.appendChild(said);
  }

  function showJournal() {
    var waiting = journal().length;
    journalBox.hidden = waiting === 0;
    offlineText.textContent = text("offline").replace("{n}", String(waiting));
    root.classList.toggle("offline", waiting > 0 && !sending);
  }

  /* --- modes ------------------------------------------------------------------------------------------------- */
  function setMode(name) {
    if (!MODES[name]) {
      return;
    }
    mode = name;
    buttons.forEach(function (button) {
      var on = button.getAttribute("data-mode") === name;
      button.classList.toggle("active", on);
      button.setAttribute("aria-checked", on ? "true" : "false");
    });
    Object.keys(MODES).forEach(function (key) {
      if (MODES[key].fields) {
        document.getElementById(MODES[key].fields).hidden = key !== name;
      }
    });
    root.setAttribute("data-mode", name);
    saveSettings();
    input.focus();
  }

  buttons.forEach(function (button) {
    button.addEventListener("click", function () { setMode(button.getAttribute("data-mode")); });
  });
  document.addEventListener("keydown", function (event) {
    var byKey = buttons.filter(function (button) { return button.getAttribute("data-key") === event.key; })[0];
    var byDigit = event.altKey && /^[1-9]$/.test(event.key) ? buttons[Number(event.key) - 1] : null;
    var chosen = byKey || byDigit;
    if (chosen) {
      event.preventDefault();
      setMode(chosen.getAttribute("data-mode"));
    }
  });

  /* --- locate: read only, needs the network -------------------------------------------------------------------- */
  function locate(code) {
    fetch(root.getAttribute("data-locate-url") + "?q=" + encodeURIComponent(code),
          { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var entry = { client_id: "locate-" + Date.now(), mode: "locate", code: code,
                      scanned_at: new Date().toISOString() };
        if (data.error || !data.results || !data.results.length) {
          var said = data.error || text("not-found");
          show("error", said, code);
          describe(logRow(entry), entry, "error", said);
          return;
        }
        var first = data.results[0];
        var message = first.folder_display + "  " + first.head_name;
        var detail = (first.location || "") + "  " + first.status_text;
        show(first.level, message, detail);
        describe(logRow(entry), entry, first.level, message + " — " + detail);
      })
      .catch(function () { show("error", text("locate-offline"), code); });
  }

  /* --- lending scans: journal first, then send ---------------------------------------------------------------- */
  function newId() {
    if (window.crypto && window.crypto.randomUUID) {
      return window.crypto.randomUUID();
    }
    return "s" + Date.now().toString(36) + Math.random().toString(36).slice(2, 12);
  }

  function journalScan(code) {
    var now = Date.now();
    var entry = { mode: mode, code: code, scanned_at: new Date(now).toISOString(), station: root.getAttribute("data-user") };
    var extra = MODES[mode].extra();
    Object.keys(extra).forEach(function (key) { entry[key] = extra[key]; });
    /* A blank borrower is sent as it is: the server releases the folder to whoever's request was approved, or
       says why it cannot. The cursor stays in the scan box, so the next scan is never typed into another field. */
    var again = last && last.mode === mode && last.code === code && now - last.at < SAME_SCAN_MS;
    entry.client_id = again ? last.client_id : newId();  // a double Enter resends the same scan: applied once
    last = { mode: mode, code: code, at: now, client_id: entry.client_id };
    var items = journal();
    items.push(entry);
    saveJournal(items);  // kept before anything is sent
    describe(logRow(entry), entry, "pending", text("pending"));
    if (MODES[mode].after) {
      MODES[mode].after();
    }
    showJournal();
    flush();
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      if (response.status >= 500) {
        throw new Error("server " + response.status);
      }
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    });
  }

  function settle(sent, results) {
    /* Drop the answered scans from the journal (by client id) and show each answer, in order. */
    var answered = {};
    results.forEach(function (result) { answered[result.client_id] = true; });
    saveJournal(journal().filter(function (item) { return !answered[item.client_id]; }));
    results.forEach(function (result, index) {
      var entry = sent[index] || result;
      var said = result.message + (result.replayed ? "（" + text("merged") + "）" : "");
      if (entry.inventory && result.kind === "shelf") {
        shelfAnswered(entry.inventory, result.shelf, result.message);
      }
      describe(logRow(entry), entry, result.level, said);
      if (index === results.length - 1) {
        var home = entry.inventory && result.home && result.category !== "found" ? text("home") + result.home : "";
        var detail = [result.folder_display || result.folder, result.head_name, result.loan, home]
          .filter(Boolean).join("  ");
        show(result.level, said, detail);
      }
    });
  }

  function scheduleRetry() {
    if (!retryTimer) {
      retryTimer = window.setTimeout(function () { retryTimer = null; flush(); }, RETRY_MS);
    }
  }

  function flush() {
    var waiting = journal();
    if (sending || !waiting.length) {
      showJournal();
      return;
    }
    sending = true;
    /* Inventory scans go one by one to their inventory; the lending scans before the next one go together. */
    var items = waiting[0].inventory ? [waiting[0]] : waiting;
    if (!waiting[0].inventory) {
      var cut = waiting.findIndex(function (item) { return item.inventory; });
      items = cut < 0 ? waiting : waiting.slice(0, cut);
    }
    var single = items.length === 1;
    var request = waiting[0].inventory ? post(inventoryUrl(items[0].inventory), items[0])
      : single ? post(root.getAttribute("data-scan-url"), items[0])
      : post(root.getAttribute("data-batch-url"), { scans: items });
    request.then(function (answer) {
      sending = false;
      var data = answer.data;
      if (answer.status === 401 || answer.status === 403 || (answer.status === 400 && data.field === "X-CSRFToken")) {
        show("error", answer.status === 401 ? text("signed-out") : data.error, "");
        showJournal();
        return;  // kept: sent again after the clerk signs in or reloads
      }
      if (answer.status >= 400) {  // the scan itself is malformed: it would fail forever, so it is reported and dropped
        var failed = { client_id: items[0].client_id, message: data.error, level: "error", ok: false };
        settle(items, [failed]);
      } else {
        settle(items, single ? [data] : data.results);
      }
      showJournal();
      if (journal().length) {
        flush();
      }
    }).catch(function () {
      sending = false;
      show("error", text("unreachable"), text("offline").replace("{n}", String(journal().length)));
      showJournal();
      scheduleRetry();
    });
  }

  /* --- inventory (盘点): a shelf label selects the shelf, folders are journalled with it ------------------------ */
  function inventoryState() { return readJSON(INVENTORY_KEY, { list: [], shelves: {} }); }
  function saveInventoryState(value) { window.localStorage.setItem(INVENTORY_KEY, JSON.stringify(value)); }
  function inventoryUrl(id) {
    return root.getAttribute("data-inventory-scan-url").replace("/0/scans", "/" + encodeURIComponent(id) + "/scans");
  }
  function chosenInventory() {
    var id = inventorySelect ? inventorySelect.value : "";
    return inventoryState().list.filter(function (item) { return String(item.id) === id; })[0] || null;
  }
  function currentShelf(id) { return inventoryState().shelves[String(id)] || null; }
  function setShelf(id, code, address) {
    var kept = inventoryState();
    kept.shelves[String(id)] = { code: code, address: address || code };
    saveInventoryState(kept);
    showShelf();
  }
  function showShelf() {
    if (!shelfBox) {
      return;
    }
    var chosen = chosenInventory();
    var shelf = chosen ? currentShelf(chosen.id) : null;
    shelfBox.textContent = shelf ? text("shelf").replace("{shelf}", shelf.address + "（" + shelf.code + "）")
      : text("no-shelf");
    shelfBox.setAttribute("data-shelf", shelf ? shelf.code : "");
    if (inventoryLink) {
      inventoryLink.hidden = !chosen;
      if (chosen) {
        inventoryLink.href = root.getAttribute("data-inventory-page-url").replace("/0", "/" + chosen.id);
      }
    }
  }
  function shelfAnswered(id, code, message) {
    /* A label the station did not know (outside the range): the scans after it in the journal were on it. */
    var address = message.replace(/^[^：]*：/, "").replace(/（.*$/, "");
    setShelf(id, code, address);
    saveJournal(journal().map(function (item) {
      if (String(item.inventory) === String(id)) {
        item.shelf = code;
      }
      return item;
    }));
  }
  function fillInventories(list, wanted) {
    inventorySelect.textContent = "";
    var none = document.createElement("option");
    none.value = "";
    none.textContent = list.length ? text("choose-inventory") : text("no-inventory");
    inventorySelect.appendChild(none);
    list.forEach(function (item) {
      var option = document.createElement("option");
      option.value = String(item.id);
      option.textContent = item.number + " · " + item.scope_text;
      inventorySelect.appendChild(option);
    });
    if (wanted && list.some(function (item) { return String(item.id) === String(wanted); })) {
      inventorySelect.value = String(wanted);
    }
    showShelf();
  }
  function loadInventories(wanted) {
    fillInventories(inventoryState().list, wanted);  // offline: the list as last seen
    fetch(root.getAttribute("data-inventories-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.inventories) {
          return;
        }
        var kept = inventoryState();
        kept.list = data.inventories;
        saveInventoryState(kept);
        fillInventories(kept.list, wanted || inventorySelect.value);
        saveSettings();
      })
      .catch(function () { /* offline: keep the list as last seen */ });
  }
  function inventoryScan(code) {
    var chosen = chosenInventory();
    if (!chosen) {
      show("error", text("need-inventory"), code);  // the cursor stays in the scan box (issue #10.1)
      return;
    }
    var label = (chosen.shelves || []).filter(function (shelf) { return shelf.code === code.toUpperCase(); })[0];
    var now = Date.now();
    if (label) {  // a shelf label of the range: known here, so it works offline too
      setShelf(chosen.id, label.code, label.address);
      var said = text("shelf").replace("{shelf}", label.address + "（" + label.code + "）");
      var shelfEntry = { client_id: "shelf-" + now, mode: "inventory", code: code, scanned_at: new Date(now).toISOString() };
      show("ok", said, chosen.number);
      describe(logRow(shelfEntry), shelfEntry, "ok", said);
      return;
    }
    var shelf = currentShelf(chosen.id);
    var again = last && last.mode === "inventory" && last.code === code && now - last.at < SAME_SCAN_MS;
    var entry = { mode: "inventory", inventory: chosen.id, code: code, shelf: shelf ? shelf.code : "",
                  scanned_at: new Date(now).toISOString(), client_id: again ? last.client_id : newId() };
    last = { mode: "inventory", code: code, at: now, client_id: entry.client_id };
    var items = journal();
    items.push(entry);
    saveJournal(items);  // kept before anything is sent
    describe(logRow(entry), entry, "pending", text("pending"));
    showJournal();
    flush();
  }

  /* --- inspection (抽查): a folder drawn opens its checklist ---------------------------------------------------- */
  function loadInspections(wanted) {
    fetch(root.getAttribute("data-inspections-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var list = data.inspections || [];
        inspectionSelect.textContent = "";
        var none = document.createElement("option");
        none.value = "";
        none.textContent = list.length ? text("choose-inspection") : text("no-inspection");
        inspectionSelect.appendChild(none);
        list.forEach(function (item) {
          var option = document.createElement("option");
          option.value = String(item.id);
          option.textContent = item.number + " · " + item.inspector + " · " + item.inspected_on;
          inspectionSelect.appendChild(option);
        });
        if (wanted && list.some(function (item) { return String(item.id) === String(wanted); })) {
          inspectionSelect.value = String(wanted);
        }
        saveSettings();
      })
      .catch(function () { /* offline: inspection mode needs the network anyway */ });
  }
  function inspectionScan(code) {
    var id = inspectionSelect.value;
    var entry = { client_id: "inspect-" + Date.now(), mode: "inspect", code: code, scanned_at: new Date().toISOString() };
    if (!id) {
      show("error", text("need-inspection"), code);
      return;
    }
    var url = root.getAttribute("data-inspection-folder-url").replace("/0/folder", "/" + encodeURIComponent(id) + "/folder");
    fetch(url + "?code=" + encodeURIComponent(code), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json(); })
      .then(function (data) {
        if (!data.ok) {
          show("error", data.error, code);
          describe(logRow(entry), entry, "error", data.error);
          return;
        }
        var said = data.folder + "  " + data.head_name;
        show("ok", said, text("opening"));
        describe(logRow(entry), entry, "ok", said);
        window.location.assign(data.url);
      })
      .catch(function () { show("error", text("locate-offline"), code); });
  }

  /* --- the input ------------------------------------------------------------------------------------------------ */
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = input.value.trim();
    input.value = "";
    input.focus();
    if (code) {
      MODES[mode].run(code);
    }
  });

  var lookup = null;
  borrower.addEventListener("input", function () {
    window.clearTimeout(lookup);
    lookup = window.setTimeout(function () {
      fetch(root.getAttribute("data-borrowers-url") + "?q=" + encodeURIComponent(borrower.value.trim()),
            { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) { return response.json(); })
        .then(function (data) {
          borrowerList.textContent = "";
          (data.borrowers || []).forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.key;
            option.textContent = item.display + " · " + item.kind_text;
            borrowerList.appendChild(option);
          });
        })
        .catch(function () { /* offline: the clerk types the key */ });
    }, 200);
    saveSettings();
  });
  purpose.addEventListener("change", saveSettings);
  borrower.addEventListener("change", function () { saveSettings(); input.focus(); });
  flushButton.addEventListener("click", function () { flush(); input.focus(); });
  if (inventorySelect) {
    inventorySelect.addEventListener("change", function () { saveSettings(); showShelf(); input.focus(); });
  }
  window.addEventListener("online", flush);

  /* --- start: restore the settings and the journal, show what waits, and try to send it ------------------------- */
  var settings = readJSON(SETTINGS_KEY, {});
  if (settings.borrower) {
    borrower.value = settings.borrower;
  }
  if (settings.purpose) {
    purpose.value = settings.purpose;
  }
  var startInventory = root.getAttribute("data-start-inventory");  // "continue scanning" from an inventory page
  if (inventorySelect) {
    loadInventories(startInventory || settings.inventory);
  }
  var startInspection = root.getAttribute("data-start-inspection");  // "scan at the station" from an inspection
  if (inspectionSelect) {
    inspectionSelect.addEventListener("change", function () { saveSettings(); input.focus(); });
    loadInspections(startInspection || settings.inspection);
  }
  setMode(startInventory && MODES.inventory ? "inventory"
    : startInspection && MODES.inspect ? "inspect"
    : settings.mode && MODES[settings.mode] ? settings.mode : "locate");
  journal().forEach(function (entry) { describe(logRow(entry), entry, "pending", text("pending")); });
  showJournal();
  flush();
}());
