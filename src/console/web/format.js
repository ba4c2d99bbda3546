// Small formatting helpers shared by the panels.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function num(value) {
  if (value === null || value === undefined) return "–";
  return Number(value).toLocaleString("en-US");
}

export function rate(value) {
  if (value === null || value === undefined) return "–";
  return `${Number(value).toLocaleString("en-US", { maximumFractionDigits: 1 })}/s`;
}

export function eta(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.ceil(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

export function ms(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1000) return `${Math.round(value)} ms`;
  return `${(value / 1000).toFixed(value < 10000 ? 2 : 1)} s`;
}

export function time(iso) {
  if (!iso) return "–";
  return iso.replace("T", " ").replace("Z", "");
}

// Makes the children of `parent` look like `next` (freshly built nodes of the same panel)
// by changing only what differs: a text, an attribute, a node of another kind, children
// added or removed at the end. The panels build their whole tree every second, which is
// cheap while it is detached; putting it in place with replaceChildren made the browser
// restyle and lay out the whole panel every second, this touches only the figures that
// moved. Listeners are not compared: a panel that attaches them is replaced, not patched.
export function patchChildren(parent, next) {
  const nodes = [...next];
  for (let i = 0; i < nodes.length; i++) {
    const old = parent.childNodes[i];
    if (old) patchNode(old, nodes[i]);
    else parent.append(nodes[i]);
  }
  while (parent.childNodes.length > nodes.length) parent.lastChild.remove();
}

function patchNode(node, next) {
  if (node.nodeType !== next.nodeType || node.nodeName !== next.nodeName) {
    node.replaceWith(next);
    return;
  }
  if (node.nodeType !== Node.ELEMENT_NODE) {
    if (node.nodeValue !== next.nodeValue) node.nodeValue = next.nodeValue;
    return;
  }
  for (const { name, value } of next.attributes) {
    if (node.getAttribute(name) !== value) node.setAttribute(name, value);
  }
  for (const { name } of [...node.attributes]) {
    if (!next.hasAttribute(name)) node.removeAttribute(name);
  }
  patchChildren(node, next.childNodes);
}
