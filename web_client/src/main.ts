import { createApp } from 'vue'
import App from './App.vue'
import { pinia } from './stores/pinia'
import { router } from './router'
import { i18n } from './i18n'
import 'element-plus/theme-chalk/base.css'
import './styles/main.css'

const app = createApp(App)
app.use(pinia).use(i18n).use(router)
router.isReady().then(() => app.mount('#app'))
