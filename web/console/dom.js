/** Builds an element; text children are text nodes, never HTML. */
export function h(name, attrs = {}, ...children) {
  const node = document.createElement(name)
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v)
  for (const child of children) if (child !== '' && child !== undefined && child !== null) node.append(child)
  return node
}
