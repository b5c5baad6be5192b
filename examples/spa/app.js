// A single-page app that uses sessionbeacon as an npm package: `npm run build`
// bundles this file with rollup (as any app's bundler would) into
// /dist/examples/spa.js. Routes change with history.pushState; the tracker sees
// each route change as a page view by itself.
import { createTracker } from 'sessionbeacon';

const tracker = createTracker({ endpoint: '/collect', projectId: 1 });

const routes = {
  '/examples/spa/': () => `<h1>Shop</h1><p>Winter boots, 89 €.</p><button id="add">Add to cart</button>`,
  '/examples/spa/cart': () => `<h1>Cart</h1><p>${cart} item(s).</p>`,
  '/examples/spa/account': () =>
    user
      ? `<h1>Account</h1><p>Signed in as ${user}.</p><button id="logout">Log out</button>`
      : `<h1>Account</h1><form id="login"><label>Email <input id="email" value="ada@example.com"></label> <button>Log in</button></form>`,
};
let cart = 0;
let user = sessionStorage.getItem('example-user');

function render() {
  const view = routes[location.pathname] ?? (() => `<h1>Not found</h1>`);
  document.getElementById('view').innerHTML = view(); // the app's own markup: no visitor input goes in
  document.getElementById('user').textContent = user ? `👤 ${user}` : '';
}

function navigate(path) {
  history.pushState({}, '', path);
  render();
}

document.addEventListener('click', (event) => {
  const link = event.target.closest('a[data-route]');
  if (link) {
    event.preventDefault();
    navigate(link.getAttribute('href'));
  } else if (event.target.id === 'add') {
    cart++;
    tracker.track('add_to_cart', { sku: 'BOOT-W', price: 89 });
  } else if (event.target.id === 'logout') {
    user = null;
    sessionStorage.removeItem('example-user');
    tracker.reset(); // a new anonymous identity: the next visitor on this device is not this user
    navigate('/examples/spa/');
  }
});

document.addEventListener('submit', (event) => {
  if (event.target.id !== 'login') return;
  event.preventDefault();
  user = document.getElementById('email').value;
  sessionStorage.setItem('example-user', user);
  tracker.identify(user, { plan: 'pro' }); // the visit's earlier sessions get this identityId too
  render();
});

addEventListener('popstate', render);
render();
