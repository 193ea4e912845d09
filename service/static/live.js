// Live staff pages (service/live): the queue, 要確認 and 相談 lists refresh themselves, an item page shows
// who else has it open and takes keyboard shortcuts. Every page works without this file (reload instead).
"use strict";

(function () {
  const path = window.location.pathname;
  const itemMatch = path.match(/^\/items\/([^/]+)$/);
  const listPage = path === "/queue" || path === "/review" || path === "/support";
  if (!itemMatch && !listPage) {
    return;
  }
  const item = itemMatch ? decodeURIComponent(itemMatch[1]) : "";

  // A list is replaced only while nobody is using it: a ticked box or a field being typed in would be lost.
  function listBusy(main) {
    if (main.querySelector("input[type=checkbox]:checked")) {
      return true;
    }
    const active = document.activeElement;
    return Boolean(active && main.contains(active) && active.matches("input, textarea, select"));
  }

  let pending = null;
  let waiting = false;
  function refreshList() {
    const main = document.querySelector("main");
    if (!main) {
      return;
    }
    if (listBusy(main)) {
      waiting = true;
      return;
    }
    waiting = false;
    fetch(window.location.href, { credentials: "same-origin", headers: { "X-Live-Refresh": "1" } })
      .then(function (response) {
        // A lapsed session answers with the login page: leave the list as it is.
        if (!response.ok || response.redirected) {
          return null;
        }
        return response.text();
      })
      .then(function (html) {
        if (!html) {
          return;
        }
        const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        if (fresh && !listBusy(main)) {
          main.innerHTML = fresh.innerHTML;
          main.dataset.liveRefreshed = String(Number(main.dataset.liveRefreshed || "0") + 1);
        }
      })
      .catch(function () {});
  }

  function onChange(ids) {
    if (listPage) {
      // A worker batch or a bulk decision arrives as a burst: one reload for the burst.
      clearTimeout(pending);
      pending = setTimeout(refreshList, 300);
      return;
    }
    if (ids === "*" || ids.split(" ").indexOf(item) >= 0) {
      document.getElementById("item-changed").hidden = false;
    }
  }

  if (listPage) {
    // A list left alone while busy catches up once the person is done with it.
    document.addEventListener("change", function () {
      if (waiting) {
        clearTimeout(pending);
        pending = setTimeout(refreshList, 300);
      }
    });
  }

  if (window.EventSource) {
    const source = new EventSource("/live/events" + (item ? "?item=" + encodeURIComponent(item) : ""));
    source.addEventListener("change", function (event) {
      onChange(event.data);
    });
    source.addEventListener("presence", function (event) {
      const others = JSON.parse(event.data);
      const line = document.getElementById("presence");
      if (line) {
        line.textContent = others.length ? others.join("、") + "さんもこのコメントを開いています。" : "";
        line.hidden = others.length === 0;
      }
    });
    source.addEventListener("expired", function () {
      source.close();
    });
    document.documentElement.dataset.live = "connecting";
    source.addEventListener("open", function () {
      document.documentElement.dataset.live = "open";
    });
  }

  if (!item) {
    return;
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.isComposing) {
      return;
    }
    const target = event.target;
    if (target && target.matches && target.matches("input, textarea, select, [contenteditable]")) {
      return; // typing a memo or a reply
    }
    const key = event.key;
    if (key === "j" || key === "k") {
      const link = document.querySelector(key === "j" ? "a[rel=next]" : "a[rel=prev]");
      if (link) {
        event.preventDefault();
        window.location.href = link.href;
      }
      return;
    }
    // The same button a click would press, so 削除 still goes through its confirmation.
    const button = document.querySelector('button[data-key="' + key + '"]');
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
})();
