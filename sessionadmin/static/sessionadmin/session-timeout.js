// Warns a signed-in user before the session ends, and offers to stay signed in.
//
// The deadlines come from the page (data-* on <body>), so reading them is never activity;
// only "Stay signed in" extends the session, with a POST. Tabs of one browser share the
// latest deadlines over BroadcastChannel (localStorage events where it is missing), so
// activity or a keepalive in one tab moves the deadline in all of them. The server decides
// when a session ends; this script only informs and, at the end, goes to the login page.
(function () {
  "use strict";
  var body = document.body;
  if (!body.dataset.idleExpires) { return; }

  var state = {
    idle: Number(body.dataset.idleExpires),
    absolute: Number(body.dataset.absoluteExpires) || 0,
  };
  var warnBefore = Number(body.dataset.warningBefore || 60) * 1000;
  var loginUrl = body.dataset.loginUrl || "/accounts/login/";
  var dialog = document.getElementById("session-warning");
  var text = document.getElementById("session-warning-text");
  var countdown = document.getElementById("session-countdown");
  var stay = document.getElementById("session-stay");
  var dismiss = document.getElementById("session-dismiss");
  var dismissedUntil = 0;
  // The server ends the session at the deadline; leaving a second later makes sure the
  // login page we land on no longer sees it (clocks and the last touch differ by ms).
  var GRACE = 1000;
  var channel = "BroadcastChannel" in window ? new BroadcastChannel("session-deadlines") : null;
  var STORAGE_KEY = "session-deadlines";

  function share() {
    var message = JSON.stringify(state);
    if (channel) { channel.postMessage(message); }
    try { localStorage.setItem(STORAGE_KEY, message); } catch (e) { /* private mode */ }
  }

  function receive(raw) {
    var other;
    try { other = JSON.parse(raw); } catch (e) { return; }
    // Only ever move deadlines later: a stale tab must not shorten a fresher one.
    if (other && other.idle > state.idle) { state.idle = other.idle; dismissedUntil = 0; }
    if (other && other.absolute > state.absolute) { state.absolute = other.absolute; }
    tick();
  }

  if (channel) { channel.onmessage = function (event) { receive(event.data); }; }
  window.addEventListener("storage", function (event) {
    if (event.key === STORAGE_KEY && event.newValue) { receive(event.newValue); }
  });

  function goToLogin(reason) {
    if (window.location.pathname === loginUrl.split("?")[0]) { return; }  // already there
    var next = window.location.pathname + window.location.search;
    window.location.assign(loginUrl + "?reason=" + encodeURIComponent(reason) +
                           "&next=" + encodeURIComponent(next));
  }

  function format(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    var minutes = Math.floor(seconds / 60);
    return minutes ? minutes + " min " + (seconds % 60) + " s" : seconds + " s";
  }

  function show(kind, left) {
    if (kind === "absolute") {
      text.textContent = "Your session reaches its maximum length and ends in ";
      stay.hidden = true;
    } else {
      text.textContent = "You will be signed out for inactivity in ";
      stay.hidden = false;
    }
    text.appendChild(countdown);
    text.appendChild(document.createTextNode(kind === "absolute" ? ". Save your work now." : "."));
    countdown.textContent = format(left);
    dialog.dataset.kind = kind;
    if (!dialog.open) {
      if (dialog.showModal) { dialog.showModal(); } else { dialog.setAttribute("open", ""); }
      (stay.hidden ? dismiss : stay).focus();
    }
  }

  function hide() {
    if (dialog.open) { if (dialog.close) { dialog.close(); } else { dialog.removeAttribute("open"); } }
  }

  function tick() {
    var now = Date.now();
    var idleLeft = state.idle - now;
    var absoluteLeft = state.absolute ? state.absolute - now : Infinity;
    if (absoluteLeft <= -GRACE) { return goToLogin("absolute"); }
    if (idleLeft <= -GRACE) { return goToLogin("idle"); }
    if (absoluteLeft <= warnBefore && absoluteLeft <= idleLeft) { return show("absolute", absoluteLeft); }
    if (idleLeft <= warnBefore && now >= dismissedUntil) { return show("idle", idleLeft); }
    hide();
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  stay.addEventListener("click", function () {
    stay.disabled = true;
    fetch("/api/session/keepalive", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" },
    }).then(function (response) {
      return response.json().then(function (data) { return { status: response.status, data: data }; });
    }).then(function (result) {
      if (result.status === 401) { return goToLogin(result.data.reason || "idle"); }
      if (result.status !== 200 || !result.data.authenticated) { return goToLogin("idle"); }
      state.idle = Date.parse(result.data.idle_expires_at);
      if (result.data.absolute_expires_at) { state.absolute = Date.parse(result.data.absolute_expires_at); }
      share();
      tick();
    }).catch(function () {
      text.textContent = "Could not reach the server; check your connection and try again.";
    }).finally(function () { stay.disabled = false; });
  });

  dismiss.addEventListener("click", function () {
    // Closing the warning is not activity: it comes back near the end.
    dismissedUntil = Math.max(Date.now(), state.idle - 10000);
    hide();
  });

  share();  // this page load was a request: other tabs learn the new deadline
  tick();
  window.setInterval(tick, 1000);
})();
