// The chat's few behaviours htmx does not cover: Enter to ask, one answer at a time, the citation
// dialog, and uploads with real per-file progress. No framework; HTML comes from the server.
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  function fromHTML(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    return template.content;
  }

  // ---- asking ----------------------------------------------------------------------------------

  function answering() {
    return document.querySelector('#turns .turn[data-state="pending"]') !== null;
  }

  function syncBusy() {
    var button = document.querySelector("#ask button[type=submit]");
    if (!button) return;
    var busy = answering();
    button.setAttribute("aria-disabled", busy ? "true" : "false");
    button.textContent = busy ? "Answering…" : "Ask";
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 160;
  }

  function setUpAsking() {
    var form = document.getElementById("ask");
    if (!form) return;
    var question = document.getElementById("question");
    var generator = document.getElementById("generator");
    var saved = window.localStorage.getItem("generator");
    if (saved && generator.querySelector('option[value="' + CSS.escape(saved) + '"]')) generator.value = saved;
    generator.addEventListener("change", function () { window.localStorage.setItem("generator", generator.value); });

    question.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        form.requestSubmit();
      }
    });
    form.addEventListener("htmx:beforeRequest", function (event) {
      if (event.detail.elt !== form) return;
      if (answering()) {
        event.preventDefault();
        document.getElementById("ask-error").textContent = "Wait for the current answer to finish.";
      }
    });
    form.addEventListener("htmx:afterRequest", function (event) {
      if (event.detail.elt !== form || !event.detail.successful) return;
      question.value = "";
      document.getElementById("ask-error").textContent = "";
    });
    syncBusy();
  }

  // A new turn (asked, or finished streaming): keep the newest text in view and say when it is done.
  document.addEventListener("htmx:load", function (event) {
    var turn = event.target;
    if (!(turn instanceof Element) || !turn.matches(".turn")) return;
    syncBusy();
    if (turn.dataset.state === "pending") {
      turn.scrollIntoView({ block: "start", behavior: "smooth" });
    } else if (turn.dataset.summary) {
      document.getElementById("announce").textContent = "Answer ready: " + turn.dataset.summary + ".";
    } else if (turn.dataset.state === "logged-out") {
      document.getElementById("announce").textContent = "Logged out: log in again to see the answer.";
    }
  });

  document.addEventListener("htmx:sseBeforeMessage", function () {
    if (nearBottom()) {
      window.requestAnimationFrame(function () { window.scrollTo(0, document.documentElement.scrollHeight); });
    }
  });

  // ---- citations -------------------------------------------------------------------------------

  var opener = null;

  function setUpCitations() {
    var dialog = document.getElementById("citation");
    if (!dialog) return;
    document.addEventListener("htmx:beforeRequest", function (event) {
      if (!event.detail.target || event.detail.target.id !== "citation-body") return;
      if (opener) opener.classList.remove("showing");
      opener = event.detail.elt;
      opener.classList.add("showing");  // which citation the panel shows
    });
    // Wide screens: a side panel beside the answer (both readable, other citations still clickable);
    // narrow screens: a modal sheet over the page.
    var wide = window.matchMedia("(min-width: 861px)");
    document.addEventListener("htmx:afterSwap", function (event) {
      if (!event.detail || !event.detail.target || event.detail.target.id !== "citation-body") return;
      if (!dialog.open) {
        if (wide.matches) {
          dialog.show();
          document.body.classList.add("citing");
        } else {
          dialog.showModal();
        }
      }
      dialog.querySelector("[data-close]").focus();
      var mark = dialog.querySelector("mark");
      if (mark) mark.scrollIntoView({ block: "center" });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && dialog.open) dialog.close();  // a modal dialog does this itself
    });
    dialog.addEventListener("click", function (event) {
      // a click on the backdrop (outside the dialog's box) or on the close button
      if (event.target === dialog || event.target.closest("[data-close]")) dialog.close();
    });
    dialog.addEventListener("close", function () {
      document.body.classList.remove("citing");
      if (opener) opener.classList.remove("showing");
      if (opener && document.body.contains(opener)) opener.focus();
      opener = null;
    });
  }

  // ---- uploads ---------------------------------------------------------------------------------

  var queue = [];
  var uploading = false;

  // The upload list is redrawn every second while files are indexed, so it is not a live region:
  // a screen reader is told each file's outcome once, through the page's announcer.
  var FINISHED = ["added", "replaced", "unchanged", "skipped", "failed", "rejected"];
  var told = {};  // "job id/file name" of the outcomes said: a job's list is redrawn until it ends
  var unsaid = [];

  function tellOutcomes(root) {
    root.querySelectorAll(".upload[data-status]").forEach(function (item) {
      if (FINISHED.indexOf(item.dataset.status) < 0) return;
      var group = item.closest(".upload-group");
      if (group && group.id) {  // a job's group; a group without one (refused at once) is drawn once
        var key = group.id + "/" + item.dataset.name;
        if (told[key]) return;
        told[key] = true;
      }
      unsaid.push(item.dataset.name + ": " + item.dataset.status);
    });
    // Outcomes that arrive together (several files refused at once) are said in one announcement.
    if (unsaid.length) window.setTimeout(function () {
      if (!unsaid.length) return;
      document.getElementById("announce").textContent = unsaid.join("; ") + ".";
      unsaid = [];
    }, 0);
  }

  document.addEventListener("htmx:load", function (event) {
    if (event.target instanceof Element && event.target.matches(".upload-group")) tellOutcomes(event.target);
  });

  function setUpUploads() {
    var form = document.getElementById("upload");
    if (!form) return;
    var input = document.getElementById("files");
    input.addEventListener("change", function () {
      addFiles(form, input.files);
      input.value = "";
    });
    form.addEventListener("submit", function (event) { event.preventDefault(); });
    ["dragenter", "dragover"].forEach(function (name) {
      form.addEventListener(name, function (event) {
        event.preventDefault();
        form.classList.add("dragging");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      form.addEventListener(name, function () { form.classList.remove("dragging"); });
    });
    form.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) addFiles(form, event.dataTransfer.files);
    });
  }

  function addFiles(form, files) {
    var types = form.dataset.types.split(" ");
    var maxBytes = Number(form.dataset.maxBytes);
    Array.prototype.forEach.call(files, function (file) {
      var row = uploadRow(file.name);
      document.getElementById("uploads").prepend(row.group);
      var suffix = file.name.lastIndexOf(".") > 0 ? file.name.slice(file.name.lastIndexOf(".")).toLowerCase() : "";
      // Checked here too so a large file of the wrong kind is not sent for nothing; the server decides.
      if (types.indexOf(suffix) < 0) {
        row.reject("unsupported file type " + (suffix || "(none)") + "; supported: " + types.join(" "));
      } else if (file.size > maxBytes) {
        row.reject("file is over the " + form.dataset.maxMb + " MB limit");
      } else {
        queue.push({ file: file, row: row });
      }
    });
    next();
  }

  function uploadRow(name) {
    var group = document.createElement("ul");
    group.className = "upload-group";
    var item = document.createElement("li");
    item.className = "upload";
    item.dataset.name = name;
    item.dataset.status = "waiting";
    var label = document.createElement("span");
    label.className = "file-name";
    label.textContent = name;
    var status = document.createElement("span");
    status.className = "upload-status";
    status.textContent = "waiting";
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Uploading " + name);
    item.append(label, status, bar);
    group.append(item);
    return {
      group: group,
      progress: function (loaded, total) {
        item.dataset.status = "uploading";
        status.textContent = "uploading " + Math.round((100 * loaded) / total) + "%";
        bar.value = Math.round((100 * loaded) / total);
      },
      reject: function (reason) {
        item.dataset.status = "rejected";
        status.className = "upload-status rejected";
        status.textContent = "✕ rejected";
        var why = document.createElement("span");
        why.className = "reason";
        why.textContent = reason;
        bar.replaceWith(why);
        tellOutcomes(group);
      },
    };
  }

  // Why a file was refused: the HTML notice, or the message of a JSON error (the request size limit, a 403).
  function refusal(xhr, content) {
    if ((xhr.getResponseHeader("Content-Type") || "").indexOf("application/json") === 0) {
      try {
        var error = JSON.parse(xhr.responseText).error;
        if (error && error.message) return error.message;
      } catch (ignored) { /* not JSON after all: fall through */ }
    }
    return content.textContent.trim() || "the server refused the file (" + xhr.status + ")";
  }

  // One file per request, one at a time: each gets its own progress and its own result.
  function next() {
    if (uploading || !queue.length) return;
    uploading = true;
    var item = queue.shift();
    var body = new FormData();
    body.append("files", item.file, item.file.name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", "/uploads");
    xhr.setRequestHeader("HX-Request", "true");
    xhr.upload.addEventListener("progress", function (event) {
      if (event.lengthComputable) item.row.progress(event.loaded, event.total);
    });
    xhr.addEventListener("load", function () {
      var redirect = xhr.getResponseHeader("HX-Redirect");
      if (redirect) { window.location.href = redirect; return; }
      var content = fromHTML(xhr.responseText);
      var nodes = Array.prototype.slice.call(content.children);
      if (xhr.status >= 400 && !nodes.some(function (n) { return n.matches(".upload-group"); })) {
        item.row.reject(refusal(xhr, content));
      } else {
        item.row.group.replaceWith(content);
        nodes.forEach(function (node) {
          htmx.process(node);
          if (node.matches(".upload-group")) tellOutcomes(node);  // refused at once, or already indexed
        });
      }
      done();
    });
    xhr.addEventListener("error", function () {
      item.row.reject("the upload did not reach the server");
      done();
    });
    xhr.send(body);
  }

  function done() {
    uploading = false;
    next();
  }

  onReady(function () {
    setUpAsking();
    setUpCitations();
    setUpUploads();
  });
})();
