import { createRouter, createWebHistory } from 'vue-router'
import LoginPage from '@/pages/login/LoginPage.vue'
import AppShell from '@/pages/AppShell.vue'
import ChatPage from '@/pages/chat/ChatPage.vue'
import { registerNavigationGuard } from './guard'

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    { path: '/login', name: 'login', component: LoginPage, meta: { public: true } },
    {
      path: '/',
      component: AppShell,
      children: [
        { path: '', redirect: { name: 'chat' } },
        { path: 'chat/:channelId?', name: 'chat', component: ChatPage },
        // heavy or rarely used screens load on demand
        { path: 'directory', name: 'directory', component: () => import('@/pages/directory/DirectoryPage.vue') },
        { path: 'todo', name: 'todo', component: () => import('@/pages/todo/TodoPage.vue') },
        { path: 'video', name: 'video', component: () => import('@/pages/placeholder/ComingPage.vue'), props: { section: 'video' } },
        // 发文 (not under /exchange/: the hub keeps that prefix for the exchange's own API)
        { path: 'desk/send', name: 'exchange-send', component: () => import('@/pages/exchange/ExchangeSendPage.vue') },
        { path: 'profile', name: 'profile', component: () => import('@/pages/profile/ProfilePage.vue') },
      ],
    },
    { path: '/:rest(.*)*', redirect: '/' },
  ],
})

registerNavigationGuard(router)
