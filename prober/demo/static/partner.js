// A partner's review widget: third party, served by the demo under the other loopback name.
(() => {
  const widget = document.getElementById("partner-widget");
  if (widget) widget.textContent = "★ 4.8 · 1,024 reviews on TrustPals";
})();
