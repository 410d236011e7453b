// Demo Shop, on every page: the menu button of small screens, and (home page) the stock line, fetched from the
// JSON API once the page has loaded.
(() => {
  const button = document.getElementById("menu-button");
  const links = document.getElementById("nav-links");
  if (button && links) {
    button.addEventListener("click", () => {
      button.setAttribute("aria-expanded", String(links.classList.toggle("open")));
    });
  }
  const stock = document.getElementById("api-status");
  if (!stock) return;
  addEventListener("load", async () => {
    try {
      const resp = await fetch("/api/products", {headers: {"Accept": "application/json"}});
      const data = await resp.json();
      stock.textContent = `${data.products.length} products in stock`;
    } catch (err) {
      stock.textContent = "Stock unavailable";
    }
  });
})();
