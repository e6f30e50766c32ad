// Runs first: every later script error, and any resource that fails to load, is written
// into #script-errors (the page must never need one).
window.reportErrors = [];
function recordReportError(text) {
  window.reportErrors.push(text);
  var add = function () {
    var list = document.getElementById('script-errors');
    var item = document.createElement('li');
    item.textContent = text;
    list.appendChild(item);
    list.hidden = false;
    document.body.setAttribute('data-script-errors', String(window.reportErrors.length));
  };
  if (document.body) { add(); } else { document.addEventListener('DOMContentLoaded', add); }
}
window.addEventListener('error', function (event) {
  if (event.target && event.target !== window) {
    var target = event.target;
    recordReportError('resource failed: ' + (target.src || target.href || target.tagName));
  } else {
    recordReportError(String(event.message) + ' at ' + event.filename + ':' + event.lineno);
  }
}, true);
window.addEventListener('unhandledrejection', function (event) {
  recordReportError('unhandled rejection: ' + String(event.reason));
});
