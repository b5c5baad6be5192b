// Marks the current page in the navigation (the site's own script, not the tracker's).
for (const a of document.querySelectorAll('nav a')) {
  const href = a.getAttribute('href');
  if (location.pathname.endsWith(`/${href}`) || (location.pathname.endsWith('/') && href === 'index.html')) a.setAttribute('aria-current', 'page');
}
