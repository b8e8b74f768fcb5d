// The page of the browser client tests: mqtt.js (window.mqtt, from mqtt.min.js) connects to the broker URL of the
// query string (url, version: 4 for 3.1.1 or 5, clientId, topic), subscribes to the topic, lists every message it
// receives (topic and payload) and publishes what the form says, at QoS 1.
(() => {
  const query = new URLSearchParams(location.search);
  const state = document.getElementById('state');
  const received = document.getElementById('received');
  const fail = (what, error) => { state.textContent = `${what}: ${error.message}`; };

  const client = mqtt.connect(query.get('url'), {
    protocolVersion: Number(query.get('version')),
    clientId: query.get('clientId'),
    reconnectPeriod: 0,
    // mqtt.js's default keep-alive timer in browsers runs in a worker made from a blob: URL, which the host's policy
    // refuses (worker-src falls back to script-src 'self'); plain setInterval needs nothing.
    timerVariant: 'native',
  });
  client.on('connect', () => {
    client.subscribe(query.get('topic'), { qos: 1 }, (error, granted) => {
      if (error) {
        fail('subscribe failed', error);
      } else {
        state.textContent = `subscribed with QoS ${granted[0].qos}`;
      }
    });
  });
  client.on('error', error => fail('error', error));
  client.on('close', () => {
    if (state.textContent === 'connecting') {
      state.textContent = 'closed';
    }
  });
  client.on('message', (topic, payload) => {
    const item = document.createElement('li');
    item.dataset.topic = topic;
    item.textContent = payload.toString();
    received.append(item);
  });

  document.getElementById('publish').addEventListener('submit', event => {
    event.preventDefault();
    const form = event.target;
    client.publish(form.elements.topic.value, form.elements.payload.value, { qos: 1 }, error => {
      if (error) {
        fail('publish failed', error);
      }
    });
  });
})();
